/**
 * Distinct series per metric over a sliding window, with bounded memory.
 *
 * Each metric keeps a Map from series key to the time it was last seen, in
 * last-seen order (a touched entry is moved to the end), so expiry only looks
 * at the front. To spare the hot path a delete+insert on every point, an
 * entry is moved only when its timestamp is older than window/64; expiry can
 * therefore lag by at most that much. The same structure counts distinct
 * values of capped attribute keys.
 */
import { attributeValueString } from '../internal/match.ts';
import type { Attributes } from '../../model/metrics.ts';

class LastSeen {
  readonly entries = new Map<string, number>();

  touch(key: string, now: number, slack: number): boolean {
    const last = this.entries.get(key);
    if (last === undefined) return false;
    if (now - last > slack) {
      this.entries.delete(key);
      this.entries.set(key, now);
    }
    return true;
  }

  expire(before: number): void {
    for (const [key, at] of this.entries) {
      if (at >= before) return;
      this.entries.delete(key);
    }
  }
}

interface MetricState {
  series: LastSeen;
  /** Per capped attribute key: its distinct values. */
  values: Map<string, LastSeen>;
  lastSeen: number;
}

export interface TrackerOptions {
  maxSeriesPerMetric: number;
  maxSeriesPerAttribute: Record<string, number>;
  windowMs: number;
  maxMetrics: number;
}

export class CardinalityTracker {
  private readonly opts: TrackerOptions;
  private readonly metrics = new Map<string, MetricState>();
  private readonly cappedKeys: Array<[string, number]>;
  private readonly slack: number;

  constructor(opts: TrackerOptions) {
    this.opts = opts;
    this.cappedKeys = Object.entries(opts.maxSeriesPerAttribute);
    this.slack = opts.windowMs / 64;
  }

  /** The state of a metric with expired entries removed; undefined when max_metrics are tracked already. Call once per metric per batch. */
  metric(name: string, now: number): MetricState | undefined {
    let state = this.metrics.get(name);
    const before = now - this.opts.windowMs;
    if (!state) {
      if (this.metrics.size >= this.opts.maxMetrics) this.expireMetrics(before);
      if (this.metrics.size >= this.opts.maxMetrics) return undefined;
      state = { series: new LastSeen(), values: new Map(), lastSeen: now };
      for (const [k] of this.cappedKeys) state.values.set(k, new LastSeen());
      this.metrics.set(name, state);
    } else {
      state.series.expire(before);
      for (const v of state.values.values()) v.expire(before);
    }
    if (now - state.lastSeen > this.slack) {
      this.metrics.delete(name);
      this.metrics.set(name, state);
      state.lastSeen = now;
    }
    return state;
  }

  /** True when the series is (or may now be) tracked; false when it is over a cap. */
  admit(state: MetricState, key: string, attrs: Attributes, now: number): boolean {
    const slack = this.slack;
    if (state.series.touch(key, now, slack)) {
      for (const [k] of this.cappedKeys) {
        const v = attrs[k];
        if (v !== undefined) state.values.get(k)!.touch(attributeValueString(v), now, slack);
      }
      return true;
    }
    if (state.series.entries.size >= this.opts.maxSeriesPerMetric) return false;
    for (const [k, cap] of this.cappedKeys) {
      const v = attrs[k];
      if (v === undefined) continue;
      const values = state.values.get(k)!;
      if (!values.entries.has(attributeValueString(v)) && values.entries.size >= cap) return false;
    }
    state.series.entries.set(key, now);
    for (const [k] of this.cappedKeys) {
      const v = attrs[k];
      if (v === undefined) continue;
      const s = attributeValueString(v);
      const values = state.values.get(k)!;
      if (!values.touch(s, now, slack)) values.entries.set(s, now);
    }
    return true;
  }

  /** Tracked metric names and series, for tests and introspection. */
  size(): { metrics: number; series: number } {
    let series = 0;
    for (const s of this.metrics.values()) series += s.series.entries.size;
    return { metrics: this.metrics.size, series };
  }

  private expireMetrics(before: number): void {
    for (const [name, state] of this.metrics) {
      if (state.lastSeen >= before) return;
      this.metrics.delete(name);
    }
  }
}
