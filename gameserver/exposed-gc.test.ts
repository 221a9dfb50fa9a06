import { YoungGenerationPacer, type YoungGenerationFill } from './exposed-gc.js';

describe('YoungGenerationPacer', () => {
  /** A young generation of 10 MB that gains `perTick` bytes a tick and empties when collected. */
  function run(perTick: number, ticks: number): number[] {
    const capacity = 10_000_000;
    let used = 0;
    const collectedAt: number[] = [];
    let tick = 0;
    const pacer = new YoungGenerationPacer(
      (): YoungGenerationFill => ({ used, available: capacity - used }),
      () => {
        collectedAt.push(tick);
        used = 0;
      },
    );
    for (tick = 1; tick <= ticks; tick++) {
      used += perTick;
      pacer.endOfTick();
    }
    return collectedAt;
  }

  it('collects only when two more ticks of garbage would pass the 80 % at which V8 collects by itself', () => {
    // 1 MB a tick: after tick 7 (7 MB used) two more would pass 8 MB, 80 %: collected then, every 7 ticks.
    expect(run(1_000_000, 20)).toEqual([7, 14]);
    expect(run(100_000, 20)).toEqual([]);
  });

  it('collects every tick when one tick fills most of the young generation', () => {
    expect(run(5_000_000, 4)).toEqual([1, 2, 3, 4]);
  });

  it('collects every tick when it cannot read the young generation', () => {
    let collections = 0;
    const blind = new YoungGenerationPacer(() => undefined, () => void collections++);
    for (let i = 0; i < 3; i++) blind.endOfTick();
    expect(collections).toBe(3);
  });
});
