import { describe, expect, it } from '@jest/globals';
import { parseCliArgs } from './args.js';

describe('parseCliArgs', () => {
  const options = { interval: { type: 'string' }, once: { type: 'boolean' } } as const;

  it('reads a negative number after an option that takes a value as its value', () => {
    expect(parseCliArgs({ args: ['--interval', '-1'], options, strict: true }).values).toEqual({ interval: '-1' });
    expect(parseCliArgs({ args: ['--interval', '-.5', '--once'], options, strict: true }).values).toEqual({ interval: '-.5', once: true });
  });

  it('leaves everything else to parseArgs: a dash word after an option, a number after a flag, what follows --', () => {
    expect(() => parseCliArgs({ args: ['--interval', '-x'], options, strict: true })).toThrow(/argument is ambiguous/);
    expect(() => parseCliArgs({ args: ['--once', '-1'], options, strict: true })).toThrow(/Unknown option '-1'/);
    expect(parseCliArgs({ args: ['--', '--interval', '-1'], options, strict: true, allowPositionals: true }).positionals).toEqual(['--interval', '-1']);
  });
});
