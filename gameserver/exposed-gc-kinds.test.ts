import { constants, PerformanceObserver, type NodeGCPerformanceDetail } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Which collection each helper really runs, in the node that runs Hangar. Node 20's V8 takes any
// argument to `gc` as "a scavenge", so `gc({ type: 'major' })` there collected the young generation
// only. A file of its own: exposed-gc.ts reads `gc` when it loads, so gc must exist before then.

/** The kinds of the collections `run` caused (perf_hooks' NODE_PERFORMANCE_GC_* constants). */
async function collectionsDuring(run: () => void): Promise<number[]> {
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) kinds.push((entry as unknown as { detail: NodeGCPerformanceDetail }).detail.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  run();
  // Entries are delivered after the collection, on a later turn of the event loop: on a loaded
  // machine many turns later. Wait for the first (at most 10 s), then a little more for any other.
  for (const until = Date.now() + 10_000; !kinds.length && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50));
  observer.disconnect();
  return kinds;
}

describe('the exposed gc', () => {
  it('collects everything in collectAllGarbage and only the young generation in collectYoungGeneration', async () => {
    // What --expose-gc gives the game server.
    setFlagsFromString('--expose-gc');
    (globalThis as { gc?: unknown }).gc = runInNewContext('gc');
    const { collectAllGarbage, collectYoungGeneration } = await import('./exposed-gc.js');

    expect(await collectionsDuring(collectAllGarbage)).toContain(constants.NODE_PERFORMANCE_GC_MAJOR);
    const young = await collectionsDuring(collectYoungGeneration);
    expect(young).toContain(constants.NODE_PERFORMANCE_GC_MINOR);
    expect(young).not.toContain(constants.NODE_PERFORMANCE_GC_MAJOR);
  });
});
