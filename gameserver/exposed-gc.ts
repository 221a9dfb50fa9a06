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
