import { getHeapSpaceStatistics } from 'node:v8';

// V8's `gc`, present only when node runs with --expose-gc (the arena fleet's command does). A game
// server uses it to collect at moments of its choosing: young garbage between ticks, the warm-up's
// garbage before Ready. Without the flag every call is a no-op and V8 collects as it likes.

type ExposedGc = (options?: { type: 'minor' | 'major' }) => void;

const gc = (globalThis as { gc?: ExposedGc }).gc;

/** A scavenge: cheap, frees what the last tick (or warm-up round) allocated and dropped. */
export function collectYoungGeneration(): void {
  gc?.({ type: 'minor' });
}

/** A full mark-compact: also frees what was promoted to the old generation and has died since. */
export function collectAllGarbage(): void {
  // No argument: node 20's V8 takes any argument, `{ type: 'major' }` included, as a scavenge.
  gc?.();
}

/** The fill of the young generation at which V8 schedules a scavenge of its own (its --scavenge-task-trigger). */
const V8_SCAVENGE_TASK_TRIGGER = 0.8;

/** The young generation's bytes in use and still free. */
export interface YoungGenerationFill {
  used: number;
  available: number;
}

function readYoungGeneration(): YoungGenerationFill | undefined {
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return young && { used: young.space_used_size, available: young.space_available_size };
}

/**
 * Collects the young generation between ticks, but only once the next tick's garbage might take it
 * past the fill at which V8 schedules a scavenge of its own, which would run whenever the event
 * loop gets to it, perhaps just as a tick is due. A scavenge costs about the same whether the young
 * generation holds one tick's garbage or several (a millisecond at 600 players, mostly fixed work,
 * as nearly all of it is dead), so one every tick cost the server 9 % more CPU than one every few
 * ticks (BENCHMARKS.md, 2026-11-27). Without --expose-gc it does nothing.
 */
export class YoungGenerationPacer {
  private usedAfterLastTick = 0;
  /** The most one tick has added to the young generation lately, bytes. */
  private perTick = 0;

  constructor(
    private readonly read: () => YoungGenerationFill | undefined = readYoungGeneration,
    private readonly collect: (() => void) | undefined = gc && collectYoungGeneration,
  ) {}

  /** Call at the end of each tick. */
  endOfTick(): void {
    if (!this.collect) return;
    const young = this.read();
    if (!young) return this.collect();
    const grown = young.used - this.usedAfterLastTick;
    // A tick during which V8 collected by itself shows no growth; the estimate then decays slowly.
    this.perTick = grown > 0 ? Math.max(grown, this.perTick * 0.9) : this.perTick * 0.9;
    if (young.used + 2 * this.perTick > V8_SCAVENGE_TASK_TRIGGER * (young.used + young.available)) {
      this.collect();
      this.usedAfterLastTick = 0; // what survives a scavenge is small: counted as growth next tick
    } else {
      this.usedAfterLastTick = young.used;
    }
  }
}

/** How far back V8 looks at its allocation rate when it decides whether to shrink the young generation. */
const V8_ALLOCATION_RATE_WINDOW_MS = 5000;
/** Idle this long, a server collects: past V8's window, with a margin for the tick's timing. */
export const IDLE_COLLECTION_MS = V8_ALLOCATION_RATE_WINDOW_MS + 1000;

/**
 * Collects the young generation once a server has had nobody connected for `idleTicks` ticks in a
 * row. Start-up (module loading, the warm-ups) grows V8's young generation to two 8 MiB
 * semi-spaces. V8 gives them back at a scavenge that finds its allocation rate over the last
 * 5 s low (under 1 MB/s), but an idle server allocates so little (~150 KB/s) that its first
 * scavenge comes some 50 s after Ready, and until then its ticks touch fresh pages of the big
 * semi-space: ~5 MiB more RSS than after it (BENCHMARKS.md, helper-46). Collecting once the window
 * holds only idle time makes that scavenge happen seconds after Ready, and again after each match.
 * When players come back, V8 grows the young generation as it does after its own idle scavenge.
 * Without --expose-gc it does nothing.
 */
export class IdleCollector {
  private idle = 0;

  constructor(
    private readonly idleTicks: number,
    private readonly collect: (() => void) | undefined = gc && collectYoungGeneration,
  ) {
    if (!Number.isInteger(idleTicks) || idleTicks < 1) throw new RangeError(`IdleCollector: idleTicks must be a positive integer, got ${idleTicks}`);
  }

  /** Call at the end of each tick, with whether anyone is connected. */
  endOfTick(playersConnected: boolean): void {
    if (playersConnected) {
      this.idle = 0;
    } else if (this.idle < this.idleTicks && ++this.idle === this.idleTicks) {
      this.collect?.();
    }
  }
}
