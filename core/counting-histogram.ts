import type { Metric, Registry } from 'prom-client';

// A Prometheus histogram for what is observed tens of thousands of times a second (an allocation's
// latency, a stream request's). prom-client's Histogram.observe costs some 4,000 instructions
// (0.4 µs) an observation, where a whole stream allocation costs about 20 µs: it hashes the labels
// into a string and finds the bucket under its bound turned into a string (BENCHMARKS.md,
// "Allocator under load"). This one counts into an array per label set and builds, when the
// registry is scraped, the same values prom-client's Histogram gives, so the exposition is the same.

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type Labels<T extends string> = Partial<Record<T, string | number>>;

interface Series {
  labels: Record<string, string | number>;
  /** Observations per bucket (not cumulative), the last one +Inf's. */
  counts: number[];
  sum: number;
  count: number;
}

interface Value {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string | number>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

export interface CountingHistogramConfig<T extends string> {
  name: string;
  help: string;
  labelNames?: readonly T[];
  /** Upper bounds, ascending. */
  buckets: readonly number[];
  registers: Registry[];
}

export class CountingHistogram<T extends string = never> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: readonly T[];
  private readonly bounds: readonly number[];
  /** By the label values, joined. */
  private series = new Map<string, Series>();

  constructor(config: CountingHistogramConfig<T>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames ?? [];
    this.bounds = [...config.buckets];
    if (!METRIC_NAME.test(this.name)) throw new Error(`histogram ${JSON.stringify(this.name)}: not a Prometheus metric name`);
    for (const label of this.labelNames) {
      if (!LABEL_NAME.test(label) || label === 'le') throw new Error(`histogram ${this.name}: ${JSON.stringify(label)} cannot be a label name`);
    }
    if (!this.bounds.every((b, i) => Number.isFinite(b) && (i === 0 || b > this.bounds[i - 1]!))) {
      throw new Error(`histogram ${this.name}: buckets must be finite and ascending, got ${this.bounds.join(', ')}`);
    }
    this.reset();
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }

  observe(labels: Labels<T>, value: number): void;
  observe(value: number): void;
  observe(labelsOrValue: Labels<T> | number, maybeValue?: number): void {
    const labels = typeof labelsOrValue === 'number' ? {} : labelsOrValue;
    const value = typeof labelsOrValue === 'number' ? labelsOrValue : maybeValue!;
    if (!Number.isFinite(value)) throw new TypeError(`histogram ${this.name}: observed ${String(value)}, not a finite number`);
    const key = this.keyOf(labels);
    const series = this.series.get(key) ?? this.newSeries(key, labels);
    const bounds = this.bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
    series.counts[bucket]!++;
    series.sum += value;
    series.count++;
  }

  reset(): void {
    this.series = new Map();
    // As prom-client's: a histogram without labels is exported, all zero, before its first observation.
    if (this.labelNames.length === 0) this.newSeries('', {});
  }

  /** The values as prom-client's Histogram gives them to the registry for the text exposition. */
  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Value[] }> {
    const values: Value[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const series of this.series.values()) {
      let cumulative = 0;
      for (const [i, bound] of this.bounds.entries()) {
        cumulative += series.counts[i]!;
        values.push({ labels: { le: bound }, sharedLabels: series.labels, value: cumulative, metricName: bucketName, exemplar: null });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: series.labels, value: series.count, metricName: bucketName, exemplar: null });
      values.push({ labels: {}, sharedLabels: series.labels, value: series.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels: series.labels, value: series.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The values as prom-client's Histogram.get() gives them: each with its labels and `le` together. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Array<Omit<Value, 'sharedLabels'>> }> {
    const data = await this.getForPromString();
    return { ...data, values: data.values.map(({ sharedLabels, labels, ...value }) => ({ ...value, labels: { ...labels, ...sharedLabels } })) };
  }

  /** The series' key: with one label (every use here), its value itself, so nothing is built per observation. */
  private keyOf(labels: Labels<T>): string {
    const names = this.labelNames;
    if (names.length === 1) {
      const value = labels[names[0]!];
      return value === undefined ? '\u0000' : String(value);
    }
    let key = '';
    for (const name of names) key += `${labels[name] ?? '\u0000'}\u0001`;
    return key;
  }

  /** A new series for `labels`, checked once here rather than on every observation. */
  private newSeries(key: string, labels: Labels<T>): Series {
    const own: Record<string, string | number> = {};
    for (const name of Object.keys(labels)) {
      if (!(this.labelNames as readonly string[]).includes(name)) throw new Error(`histogram ${this.name}: label ${JSON.stringify(name)} is not one of its labels (${this.labelNames.join(', ')})`);
      const value = labels[name as T];
      if (value !== undefined) own[name] = value;
    }
    const series: Series = { labels: own, counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
    this.series.set(key, series);
    return series;
  }
}
