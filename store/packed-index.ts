import { packedBefore } from '../allocator/select.js';
import type { GameServer } from '../core/game-server.js';

// Game servers kept in packed order (allocator/select.ts comparePacked; packedBefore compares), for
// the memory store's allocation indexes. A sorted array would cost a splice of the whole index on
// every write; here the servers sit in short sorted chunks, so a write moves at most one chunk's worth.

/**
 * Largest chunk; a full one splits in two. Small, because allocations take servers from the front
 * of a chunk and return them there, and every other server of the chunk moves each time: at 64
 * that cost the allocator more than the binary searches (BENCHMARKS.md, "Allocator under load").
 */
const CHUNK = 16;

export class PackedIndex implements Iterable<GameServer> {
  private readonly chunks: GameServer[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(gs: GameServer): void {
    if (this.chunks.length === 0) {
      this.chunks.push([gs]);
      this.count = 1;
      return;
    }
    // Past the last chunk's end it joins the last chunk.
    const c = Math.min(this.chunkFor(gs), this.chunks.length - 1);
    const chunk = this.chunks[c]!;
    // Shifted by hand: splice returns an array (of what it removed) on every call.
    const at = position(chunk, gs);
    chunk.push(gs);
    for (let j = chunk.length - 1; j > at; j--) chunk[j] = chunk[j - 1]!;
    chunk[at] = gs;
    this.count++;
    if (chunk.length > CHUNK) this.chunks.splice(c + 1, 0, chunk.splice(CHUNK / 2));
  }

  /** Removes `gs` (the very record added: names are unique, so its place is known); false when absent. */
  delete(gs: GameServer): boolean {
    const c = this.chunkFor(gs);
    const chunk = this.chunks[c];
    if (!chunk) return false;
    const i = position(chunk, gs);
    if (chunk[i] !== gs) return false;
    for (let j = i; j < chunk.length - 1; j++) chunk[j] = chunk[j + 1]!;
    chunk.pop();
    this.count--;
    if (chunk.length === 0) this.chunks.splice(c, 1);
    return true;
  }

  /** Puts `next`, which sorts exactly where `previous` does, in its place; false when `previous` is absent. */
  replace(previous: GameServer, next: GameServer): boolean {
    const chunk = this.chunks[this.chunkFor(previous)];
    if (!chunk) return false;
    const i = position(chunk, previous);
    if (chunk[i] !== previous) return false;
    chunk[i] = next;
    return true;
  }

  [Symbol.iterator](): Iterator<GameServer> {
    return new InPackedOrder(this.chunks);
  }

  /** The first chunk whose last server is not before `gs`; chunks.length when there is none. */
  private chunkFor(gs: GameServer): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (packedBefore(chunk[chunk.length - 1]!, gs)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Where `gs` is, or would go, in the sorted `chunk`. */
function position(chunk: readonly GameServer[], gs: GameServer): number {
  let lo = 0;
  let hi = chunk.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (packedBefore(chunk[mid]!, gs)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The servers of the chunks in order. Not a generator: an allocation walks its candidates through
 * one of these, and a generator makes a new result object every step; this one reuses its own
 * (for...of, spread and Array.from read each result before asking for the next).
 */
class InPackedOrder implements Iterator<GameServer> {
  private chunk = 0;
  private inChunk = 0;
  private readonly result: { done: false; value: GameServer } = { done: false, value: undefined as unknown as GameServer };

  constructor(private readonly chunks: readonly GameServer[][]) {}

  next(): IteratorResult<GameServer> {
    while (this.chunk < this.chunks.length) {
      const chunk = this.chunks[this.chunk]!;
      if (this.inChunk < chunk.length) {
        this.result.value = chunk[this.inChunk++]!;
        return this.result;
      }
      this.chunk++;
      this.inChunk = 0;
    }
    return { done: true, value: undefined };
  }
}
