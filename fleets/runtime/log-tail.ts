import { open } from 'node:fs/promises';

// What a game-server process said last before it exited, for the stack's own warning: an operator
// should read why a server keeps restarting without opening its log file. A fatal error is often
// not the last line: its stack trace follows it, and pino's asynchronous writes of routine lines
// can land after it, so those are passed over. Node's own report of an uncaught exception ends in
// its version and the error's properties, so there the error's headline is what is said.

const TAIL_BYTES = 4096;
const MAX_CHARS = 300;

/**
 * The headline of node's uncaught-exception report if the file ends in one; else the last line of
 * `file` that is neither a stack frame nor a pino line below warn (else the last line), a pino line
 * given as its message and error; undefined for an empty file.
 */
export async function lastLogLine(file: string): Promise<string | undefined> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const { buffer } = await handle.read(Buffer.alloc(length), 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean);
    const line = (NODE_FOOTER.test(lines.at(-1) ?? '') ? lines.findLast((l) => ERROR_HEADLINE.test(l)) : undefined) ?? lines.findLast(telling) ?? lines.at(-1);
    if (line === undefined) return undefined;
    const said = readable(line);
    return said.length > MAX_CHARS ? `${said.slice(0, MAX_CHARS - 1)}…` : said;
  } finally {
    await handle.close();
  }
}

const PINO_WARN = 40;
/** The line node prints after an uncaught exception's report. */
const NODE_FOOTER = /^Node\.js v\d+\.\d+\.\d+$/;
/** `Error: message`, `TypeError [ERR_CODE]: message`, `PortUnavailableError: message`. */
const ERROR_HEADLINE = /^(?:[A-Z]\w*)?(?:Error|Exception)(?: \[\w+\])?: /;

interface PinoEntry {
  level?: unknown;
  msg?: unknown;
  err?: { message?: unknown };
}

function telling(line: string): boolean {
  if (line.startsWith('at ') || NODE_FOOTER.test(line) || line.startsWith('(Use `node --trace-uncaught')) return false;
  const level = pinoEntry(line)?.level;
  return typeof level !== 'number' || level >= PINO_WARN;
}

function pinoEntry(line: string): PinoEntry | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as PinoEntry;
  } catch {
    return undefined;
  }
}

function readable(line: string): string {
  const entry = pinoEntry(line);
  if (!entry) return line;
  const msg = typeof entry.msg === 'string' ? entry.msg : undefined;
  const err = typeof entry.err?.message === 'string' ? entry.err.message : undefined;
  return [msg, err].filter(Boolean).join(': ') || line;
}
