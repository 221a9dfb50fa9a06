import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JsonBodyError, readJsonBody } from './json-body.js';

// readJsonBody behind a real node:http server that answers what it read (or its refusal).

const LIMIT = 1024;

describe('readJsonBody', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((req, res) => {
      readJsonBody(req, LIMIT).then(
        (value) => res.end(JSON.stringify({ value: value === undefined ? 'undefined' : value })),
        (err: JsonBodyError) => res.end(JSON.stringify({ status: err.status, code: err.code, message: err.message })),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const read = (headers: Record<string, string>, body?: string | Buffer) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
      });
      req.on('error', reject);
      req.end(body);
    });
  const json = { 'content-type': 'application/json' };

  it('inflates deflate and br bodies as well as gzip', async () => {
    const body = '{"a":[1,2]}';
    for (const [encoding, packed] of [['gzip', gzipSync(body)], ['deflate', deflateSync(body)], ['br', brotliCompressSync(body)]] as const) {
      expect(await read({ ...json, 'content-encoding': encoding }, packed)).toEqual({ value: { a: [1, 2] } });
    }
  });

  it('counts the limit after inflating: a small gzip of a large body is refused', async () => {
    const bomb = gzipSync(`{"a":"${' '.repeat(LIMIT * 100)}"}`);
    expect(bomb.length).toBeLessThan(LIMIT);
    expect(await read({ ...json, 'content-encoding': 'gzip' }, bomb)).toEqual({ status: 413, code: 'TOO_LARGE', message: `the body is larger than ${LIMIT} bytes` });
  });

  it('takes an empty body as {}, and a request without a body or a JSON type as none', async () => {
    expect(await read({ ...json, 'content-length': '0' })).toEqual({ value: {} });
    expect(await read({ ...json, 'content-length': '3' }, '\uFEFF')).toEqual({ value: {} });
    expect(await read({ 'content-type': 'text/plain' }, '{}')).toEqual({ value: 'undefined' });
    expect(await read({ 'content-type': 'application/json-seq' }, '{}')).toEqual({ value: 'undefined' });
    // A POST without Content-Length or Transfer-Encoding has no body (node's client always sends one of them).
    const raw = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.end('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n'));
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.on('close', () => resolve(text));
    });
    expect(raw).toContain('{"value":"undefined"}');
  });

  it('refuses a charset other than utf-*, or one that does not exist', async () => {
    expect(await read({ 'content-type': 'application/json; charset=utf-7' }, '{}')).toMatchObject({ status: 415, message: 'unsupported charset "UTF-7"' });
    expect(await read({ 'content-type': 'application/json;charset=iso-8859-1' }, '{}')).toMatchObject({ status: 415, message: 'unsupported charset "ISO-8859-1"' });
  });
});
