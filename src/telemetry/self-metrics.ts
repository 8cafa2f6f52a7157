/**
 * Tributary's own metrics (CONTRACT §6), served as Prometheus text on the
 * admin endpoint. Deliberately tiny: hot paths take a pre-bound handle once
 * (`counter.bind({...})`) and then only do `handle.add(n)`, a property
 * increment; label maps are resolved at bind time, never per point.
 *
 * The registry outlives pipeline rebuilds (live reload), so counters keep
 * counting across reloads; gauges registered by a component are removed with
 * the disposer `gaugeFn` returns.
 */

export type Labels = Record<string, string>;

export interface CounterHandle {
  add(n?: number): void;
  readonly value: number;
}

interface Series {
  labels: Labels;
  value: number;
}

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.map((k) => `${k}=${labels[k]}`).join(',');
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function renderLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return '{' + keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(',') + '}';
}

function renderValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * A metric family: series set on the hot path (`stored`) plus series read
 * from callbacks at scrape time (`observe`, e.g. queue sizes, CPU seconds).
 */
abstract class Family {
  readonly name: string;
  readonly help: string;
  abstract readonly kind: 'counter' | 'gauge';
  protected readonly stored = new Map<string, Series>();
  private readonly observed = new Map<string, { labels: Labels; fn: () => number }>();

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  /** Register a callback read at scrape time for one label set; returns a disposer. */
  observe(labels: Labels, fn: () => number): () => void {
    const key = labelKey(labels);
    const entry = { labels: { ...labels }, fn };
    this.observed.set(key, entry);
    return () => {
      if (this.observed.get(key) === entry) this.observed.delete(key);
    };
  }

  protected observedValue(key: string): number | undefined {
    return this.observed.get(key)?.fn();
  }

  samples(): Series[] {
    const out = [...this.stored.values()];
    for (const { labels, fn } of this.observed.values()) {
      try {
        out.push({ labels, value: fn() });
      } catch {
        // A callback of a component being torn down: skip it for this scrape.
      }
    }
    return out;
  }

  /** Sum over every series whose labels include `match`. */
  sum(match: Labels = {}): number {
    let total = 0;
    for (const s of this.samples()) {
      if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value;
    }
    return total;
  }
}

export class Counter extends Family {
  readonly kind = 'counter' as const;

  /** A handle for one label set; keep it and call `add` on the hot path. */
  bind(labels: Labels = {}): CounterHandle {
    const key = labelKey(labels);
    let s = this.stored.get(key);
    if (!s) {
      s = { labels: { ...labels }, value: 0 };
      this.stored.set(key, s);
    }
    const series = s;
    return {
      add(n = 1) {
        series.value += n;
      },
      get value() {
        return series.value;
      },
    };
  }

  add(labels: Labels, n = 1): void {
    this.bind(labels).add(n);
  }

  /** Current value for an exact label set (0 if never counted). */
  get(labels: Labels = {}): number {
    const key = labelKey(labels);
    return this.observedValue(key) ?? this.stored.get(key)?.value ?? 0;
  }
}

export class Gauge extends Family {
  readonly kind = 'gauge' as const;

  set(labels: Labels, value: number): void {
    const key = labelKey(labels);
    const s = this.stored.get(key);
    if (s) s.value = value;
    else this.stored.set(key, { labels: { ...labels }, value });
  }

  remove(labels: Labels): void {
    this.stored.delete(labelKey(labels));
  }

  get(labels: Labels = {}): number | undefined {
    const key = labelKey(labels);
    return this.observedValue(key) ?? this.stored.get(key)?.value;
  }
}

/** A handle per value of one label, bound on first use (binding resolves labels; `add` on the handle is the cheap part). */
export function handlePerValue(bind: (value: string) => CounterHandle): (value: string) => CounterHandle {
  const handles = new Map<string, CounterHandle>();
  return (value) => {
    let h = handles.get(value);
    if (!h) {
      h = bind(value);
      handles.set(value, h);
    }
    return h;
  };
}

export class SelfMetrics {
  private readonly families = new Map<string, Family>();

  counter(name: string, help: string): Counter {
    const existing = this.families.get(name);
    if (existing) {
      if (!(existing instanceof Counter)) throw new Error(`self-metric ${name} already registered as ${existing.kind}`);
      return existing;
    }
    const c = new Counter(name, help);
    this.families.set(name, c);
    return c;
  }

  gauge(name: string, help: string): Gauge {
    const existing = this.families.get(name);
    if (existing) {
      if (!(existing instanceof Gauge)) throw new Error(`self-metric ${name} already registered as ${existing.kind}`);
      return existing;
    }
    const g = new Gauge(name, help);
    this.families.set(name, g);
    return g;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    let out = '';
    for (const f of this.families.values()) {
      const samples = f.samples();
      out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.kind}\n`;
      for (const s of samples) out += `${f.name}${renderLabels(s.labels)} ${renderValue(s.value)}\n`;
    }
    return out;
  }
}

/**
 * The self-metrics of CONTRACT §6, declared in one place so every component
 * counts the same way and names cannot drift.
 */
export class PipelineTelemetry {
  readonly registry: SelfMetrics;
  readonly receiverAccepted: Counter;
  readonly receiverRefused: Counter;
  readonly receiverRefusedRequests: Counter;
  readonly processorDropped: Counter;
  readonly exporterSent: Counter;
  readonly exporterFailed: Counter;
  readonly exporterRetries: Counter;
  readonly exporterQueueSize: Gauge;
  readonly exporterQueueCapacity: Gauge;
  readonly exporterCircuitState: Gauge;
  readonly samplingRate: Gauge;
  readonly statsdBadLines: Counter;
  readonly configReloads: Counter;

  constructor(registry = new SelfMetrics()) {
    this.registry = registry;
    this.receiverAccepted = registry.counter('tributary_receiver_accepted_points_total', 'Data points a receiver accepted into a pipeline.');
    this.receiverRefused = registry.counter('tributary_receiver_refused_points_total', 'Data points a receiver refused, by reason.');
    this.receiverRefusedRequests = registry.counter(
      'tributary_receiver_refused_requests_total',
      'Requests or datagrams a receiver refused before their points could be counted (malformed, too large, wrong content type), by reason.',
    );
    this.processorDropped = registry.counter('tributary_processor_dropped_points_total', 'Data points a processor dropped, by reason.');
    this.exporterSent = registry.counter('tributary_exporter_sent_points_total', 'Data points an exporter delivered to its backend.');
    this.exporterFailed = registry.counter('tributary_exporter_failed_points_total', 'Data points an exporter gave up on, by reason.');
    this.exporterRetries = registry.counter('tributary_exporter_retries_total', 'Send attempts an exporter retried.');
    this.exporterQueueSize = registry.gauge('tributary_exporter_queue_size', 'Data points waiting in an exporter queue.');
    this.exporterQueueCapacity = registry.gauge('tributary_exporter_queue_capacity', 'Capacity of an exporter queue, in data points.');
    this.exporterCircuitState = registry.gauge('tributary_exporter_circuit_state', 'Circuit breaker state: 0 closed, 1 half-open, 2 open.');
    this.samplingRate = registry.gauge('tributary_sampling_rate', 'Current effective sampling rate.');
    this.statsdBadLines = registry.counter('tributary_statsd_bad_lines_total', 'StatsD lines that could not be parsed, by reason.');
    this.configReloads = registry.counter('tributary_config_reloads_total', 'Config reloads, by result.');
  }
}
