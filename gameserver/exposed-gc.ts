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
  gc?.({ type: 'major' });
}

/**
 * Collects the young generation between ticks, but only once the next tick's garbage might take it
 * past the fill at which V8 schedules a scavenge of its own (80 %, its --scavenge-task-trigger),
 * which would run whenever the event loop gets to it, perhaps just as a tick is due. A scavenge
 * costs about the same whether the young generation holds one tick's garbage or several (a
 * millisecond at 600 players, mostly fixed work, as nearly all of it is dead), so one every tick
 * cost the server 9 % more CPU than one every few ticks (BENCHMARKS.md, 2026-11-27).
 */
const V8_SCAVENGE_TASK_TRIGGER = 0.8;

export class YoungGenerationPacer {
  private usedAfterLastTick = 0;
  /** The most one tick has added to the young generation lately, bytes. */
  private perTick = 0;

  /** Call at the end of each tick. */
  endOfTick(): void {
    if (!gc) return;
    const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    if (!young) return collectYoungGeneration();
    const grown = young.space_used_size - this.usedAfterLastTick;
    // A tick during which V8 collected by itself shows no growth; the estimate then decays slowly.
    this.perTick = grown > 0 ? Math.max(grown, this.perTick * 0.9) : this.perTick * 0.9;
    if (young.space_used_size + 2 * this.perTick > V8_SCAVENGE_TASK_TRIGGER * (young.space_used_size + young.space_available_size)) {
      collectYoungGeneration();
      this.usedAfterLastTick = 0; // what survives a scavenge is small: counted as growth next tick
    } else {
      this.usedAfterLastTick = young.space_used_size;
    }
  }
}
