import { IdleCollector, YoungGenerationPacer, type YoungGenerationFill } from './exposed-gc.js';

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

describe('IdleCollector', () => {
  /** The ticks (1-based) at which it collected, given whether players were connected at each. */
  function collections(idleTicks: number, playersAt: boolean[]): number[] {
    const collectedAt: number[] = [];
    let tick = 0;
    const idle = new IdleCollector(idleTicks, () => collectedAt.push(tick));
    for (const players of playersAt) {
      tick++;
      idle.endOfTick(players);
    }
    return collectedAt;
  }

  it('collects once when nobody has been connected for idleTicks ticks, not again while it stays idle', () => {
    expect(collections(3, [false, false, false, false, false, false, false])).toEqual([3]);
  });

  it('starts counting again when players leave', () => {
    const match = [false, false, true, true, true, false, false, false, false];
    expect(collections(3, match)).toEqual([8]);
    expect(collections(2, [false, false, true, false, false])).toEqual([2, 5]);
  });

  it('never collects while players are connected', () => {
    expect(collections(1, [true, true, true])).toEqual([]);
  });

  it('refuses an idle time that is not a positive whole number of ticks', () => {
    expect(() => new IdleCollector(0)).toThrow('IdleCollector: idleTicks must be a positive integer, got 0');
    expect(() => new IdleCollector(2.5)).toThrow(RangeError);
  });
});
