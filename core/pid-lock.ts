import { readFileSync, rmSync, writeFileSync } from 'node:fs';

// One process at a time per directory: a file holding the owner's pid, created exclusively. A file
// whose process is gone (killed, crashed) is stale and taken over; so no cleanup is needed after a
// crash, and the only false "in use" is a stale pid the system has since given to another process.

export type PidLock = { acquired: true; release: () => void } | { acquired: false; owner: number };

/** Takes `file` for this process, or says which live process holds it. Throws on I/O errors other than the file existing. */
export function acquirePidLock(file: string): PidLock {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return { acquired: true, release: () => rmSync(file, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(owner) && owner > 0 && processExists(owner)) return { acquired: false, owner };
    rmSync(file, { force: true });
  }
  throw new Error(`cannot take ${file}: other processes keep taking it`);
}

/** Whether a process with `pid` runs (perhaps another user's). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
