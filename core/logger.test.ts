import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger } from './logger.js';

/** The records a logger wrote, parsed. */
function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger({ level: 'info', destination }), records: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

describe('createLogger', () => {
  it("writes an error's message once, with its cause beside it rather than appended to it again", () => {
    const { log, records } = capture();
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:8001');
    log.warn({ err: new Error(`cannot reach the allocator: ${cause.message}`, { cause }) }, 'allocation failed');
    const [record] = records();
    expect(record!.err.message).toBe('cannot reach the allocator: connect ECONNREFUSED 127.0.0.1:8001');
    expect(record!.err.cause).toMatchObject({ type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:8001' });
    expect(record!.msg).toBe('allocation failed');
  });

  it('keeps secrets out of the records', () => {
    const { log, records } = capture();
    log.info({ env: { ENCRYPTION_KEY: 'k'.repeat(64), JWT_SECRET: 's' }, db: { password: 'p' } }, 'config');
    const [record] = records();
    expect(record!.env).toEqual({ ENCRYPTION_KEY: '[redacted]', JWT_SECRET: '[redacted]' });
    expect(record!.db).toEqual({ password: '[redacted]' });
  });
});
