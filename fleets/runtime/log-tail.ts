import { open } from 'node:fs/promises';

// The last thing a game-server process wrote before it exited, for the stack's own warning: an
// operator should read why a server keeps restarting without opening its log file.

const TAIL_BYTES = 4096;
const MAX_CHARS = 300;

/** The last non-empty line of `file` (a pino JSON line as its message and error), or undefined. */
export async function lastLogLine(file: string): Promise<string | undefined> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const { buffer } = await handle.read(Buffer.alloc(length), 0, length, size - length);
    const line = buffer.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean).at(-1);
    if (line === undefined) return undefined;
    const said = readable(line);
    return said.length > MAX_CHARS ? `${said.slice(0, MAX_CHARS - 1)}…` : said;
  } finally {
    await handle.close();
  }
}

function readable(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const entry = JSON.parse(line) as { msg?: unknown; err?: { message?: unknown } };
    const msg = typeof entry.msg === 'string' ? entry.msg : undefined;
    const err = typeof entry.err?.message === 'string' ? entry.err.message : undefined;
    return [msg, err].filter(Boolean).join(': ') || line;
  } catch {
    return line;
  }
}
