import { describe, expect, it } from '@jest/globals';
import { Histogram, Registry } from 'prom-client';
import { CountingHistogram } from './counting-histogram.js';

const buckets = [0.001, 0.01, 0.1, 1];

/** The same observations into prom-client's Histogram and a CountingHistogram, each in a registry of its own. */
function both<T extends string>(labelNames: readonly T[], observe: (h: { observe(labels: Partial<Record<T, string>>, value: number): void; observe(value: number): void }) => void) {
  const theirs = new Registry();
  const ours = new Registry();
  const config = { name: 'test_duration_seconds', help: 'Time to do a test', buckets };
  const reference = new Histogram({ ...config, labelNames: [...labelNames], registers: [theirs] });
  const counting = new CountingHistogram({ ...config, labelNames, registers: [ours] });
  observe(reference as never);
  observe(counting as never);
  return { theirs, ours, counting };
}

describe('CountingHistogram', () => {
  it('exports what prom-client exports for the same observations, by label, on the bounds and past the last', async () => {
    const { theirs, ours } = both(['status'] as const, (h) => {
      for (const v of [0.0005, 0.001, 0.002, 0.05, 0.5, 1, 3]) h.observe({ status: 'Allocated' }, v);
      h.observe({ status: 'UnAllocated' }, 0.02);
      h.observe({ status: 'Allocated' }, 0);
    });
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('test_duration_seconds_bucket{le="0.001",status="Allocated"} 3');
    expect(text).toContain('test_duration_seconds_bucket{le="+Inf",status="Allocated"} 8');
    expect(text).toContain('test_duration_seconds_count{status="UnAllocated"} 1');
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('exports a histogram without labels, all zero, before its first observation, as prom-client does', async () => {
    const { theirs, ours, counting } = both([] as const, () => undefined);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('test_duration_seconds_count 0');
    counting.observe(0.004);
    expect(await ours.metrics()).toContain('test_duration_seconds_bucket{le="0.01"} 1');
    counting.reset();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('keeps label sets apart with more than one label', async () => {
    const { theirs, ours } = both(['a', 'b'] as const, (h) => {
      h.observe({ a: 'x', b: 'y' }, 0.5);
      h.observe({ a: 'xy', b: '' }, 0.5);
      h.observe({ b: 'y', a: 'x' }, 0.05);
    });
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses what prom-client refuses: a value that is not a finite number, a label it was not given, a bad name', () => {
    const registry = new Registry();
    const h = new CountingHistogram({ name: 'refusing_seconds', help: 'h', labelNames: ['status'] as const, buckets, registers: [registry] });
    expect(() => h.observe({ status: 'Allocated' }, Number.NaN)).toThrow('histogram refusing_seconds: observed NaN, not a finite number');
    expect(() => h.observe({ status: 'Allocated', other: 'x' } as never, 1)).toThrow('label "other" is not one of its labels (status)');
    expect(() => new CountingHistogram({ name: 'bad-name', help: 'h', buckets, registers: [] })).toThrow('not a Prometheus metric name');
    expect(() => new CountingHistogram({ name: 'le_seconds', help: 'h', labelNames: ['le'] as const, buckets, registers: [] })).toThrow('"le" cannot be a label name');
    expect(() => new CountingHistogram({ name: 'unsorted_seconds', help: 'h', buckets: [1, 0.1], registers: [] })).toThrow('buckets must be finite and ascending');
    expect(() => new CountingHistogram({ name: 'refusing_seconds', help: 'h', buckets, registers: [registry] })).toThrow('already been registered');
  });
});
