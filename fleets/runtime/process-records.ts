import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LogField, type Logger } from '../../core/logger.js';

// Each game-server process the local runtime runs is recorded in a file (its pid, when it started,
// and the boot) for as long as it runs, so that a stack killed outright (SIGKILL, a crash, the OOM
// killer) does not leave its servers holding their ports and talking to an SDK port that a new
// stack may hand to another server: the next stack on the same state directory stops them before
// it starts its own. A pid alone could have been given to another process since; the start time
// and boot make the record name that one process only, so nothing else is ever signalled. Where
// there is no /proc (not Linux), nothing is recorded, and a killed stack's servers end by
// themselves (Hangar's game server exits once its SDK server stays gone, SDK_LOST_SECONDS).

interface ProcessIdentity {
  pid: number;
  bootId: string;
  /** Clock ticks after boot (/proc/<pid>/stat field 22). */
  startTicks: string;
}

/** The running process `pid` as /proc names it; undefined when it is gone or there is no /proc. */
function identify(pid: number): ProcessIdentity | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = fields[22 - 3];
    // A zombie has exited: it holds no port and takes no signal.
    if (!startTicks || fields[0] === 'Z') return undefined;
    return { pid, bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), startTicks };
  } catch {
    return undefined;
  }
}

/** A record as add() wrote it; throws, naming what is wrong, for anything else (a pid of 0 or 1 would signal every process, or init's group). */
function parseRecord(text: string): ProcessIdentity {
  const r = JSON.parse(text) as Partial<ProcessIdentity> | null;
  if (!r || !Number.isInteger(r.pid) || r.pid! <= 1 || typeof r.bootId !== 'string' || typeof r.startTicks !== 'string') {
    throw new Error(`not a process record (pid above 1, bootId, startTicks): ${text.slice(0, 200)}`);
  }
  return { pid: r.pid!, bootId: r.bootId, startTicks: r.startTicks };
}

function sameProcess(a: ProcessIdentity, b: ProcessIdentity | undefined): boolean {
  return b !== undefined && a.pid === b.pid && a.bootId === b.bootId && a.startTicks === b.startTicks;
}

export class ProcessRecords {
  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** Records the game server `name`'s process, just spawned (it leads its own process group). */
  add(name: string, pid: number): void {
    const identity = identify(pid);
    if (!identity) return;
    // A record that cannot be written (a full disk) costs only the clean-up after a crash: the server runs.
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(this.file(name), JSON.stringify(identity));
    } catch (err) {
      this.log.warn({ err, [LogField.gameServer]: name }, 'could not record the game-server process: a stack killed outright would leave it running');
    }
  }

  /** The process of `name` has exited. */
  remove(name: string): void {
    try {
      rmSync(this.file(name), { force: true });
    } catch (err) {
      this.log.warn({ err, [LogField.gameServer]: name }, 'could not remove the record of a game-server process that exited');
    }
  }

  /**
   * Stops the processes recorded here that still run (a stack that was killed left them): SIGTERM
   * to each one's process group, SIGKILL once `graceMs` has passed; then forgets every record.
   * Resolves with the names of those it stopped. Call only while no other stack uses the directory.
   */
  async stopLeftovers(graceMs: number): Promise<string[]> {
    let files: string[];
    try {
      files = readdirSync(this.dir).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
    const stopped = await Promise.all(
      files.map(async (file) => {
        const name = file.slice(0, -'.json'.length);
        let recorded: ProcessIdentity | undefined;
        try {
          recorded = parseRecord(readFileSync(path.join(this.dir, file), 'utf8'));
        } catch (err) {
          this.log.warn({ err, file: path.join(this.dir, file) }, 'unreadable game-server process record: ignored');
        }
        const running = recorded !== undefined && sameProcess(recorded, identify(recorded.pid));
        if (running) await stopGroup(recorded!, graceMs);
        rmSync(path.join(this.dir, file), { force: true });
        if (running) this.log.warn({ [LogField.gameServer]: name, [LogField.childPid]: recorded!.pid }, 'stopped a game server that an earlier stack on this state directory left running');
        return running ? name : undefined;
      }),
    );
    return stopped.filter((name): name is string => name !== undefined);
  }

  private file(name: string): string {
    return path.join(this.dir, `${name}.json`);
  }
}

/** SIGTERM to the group `leader` leads, SIGKILL after `graceMs`; resolves once the leader is gone (or 2 s after the SIGKILL). */
async function stopGroup(leader: ProcessIdentity, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-leader.pid, sig);
    } catch {
      // Gone already.
    }
  };
  signal('SIGTERM');
  const killAt = Date.now() + graceMs;
  let killed = false;
  while (sameProcess(leader, identify(leader.pid))) {
    if (!killed && Date.now() >= killAt) {
      signal('SIGKILL');
      killed = true;
    }
    if (killed && Date.now() >= killAt + 2000) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
