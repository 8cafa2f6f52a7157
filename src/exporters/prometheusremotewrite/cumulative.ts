/**
 * Delta → cumulative, applied once per batch as it is accepted (the helper's
 * `prepare`, never on a retry): Prometheus stores counters and histograms as
 * running totals, so delta sums, delta histograms and delta exponential
 * histograms (StatsD's counters and timers) are accumulated per series.
 *
 * The cumulative series starts at its first delta's start time. A delta
 * histogram whose bounds changed restarts its series (a reset Prometheus
 * sees as such). Exponential histograms are merged at the coarser of the two
 * scales, exactly (the prometheus exporter's ExpState). A point not newer than
 * the series' last one is moved 1 ms after it: the delta still counts, and
 * Prometheus would refuse a sample that is not newer. Series idle for longer
 * than `idleMs` are forgotten; a later delta starts a new series.
 */
import type { ExpHistogramPoint, HistogramPoint, MetricsBatch, NumberPoint } from '../../model/metrics.ts';
import { attributesKey } from '../../model/metrics.ts';
import { expStateFromPoint, mergeExpState, type ExpState } from '../prometheus/exphistogram.ts';
import { sameBounds } from '../common/buckets.ts';

interface SumState {
  start: number;
  time: number;
  seenAt: number;
  value: number;
}

interface HistState {
  start: number;
  time: number;
  seenAt: number;
  count: number;
  sum: number;
  bounds: number[];
  counts: number[];
}

interface ExpHistState {
  start: number;
  time: number;
  seenAt: number;
  state: ExpState;
}

const NO_RECORDED_VALUE = 1;
const ONE_MS_NS = 1e6;

export class DeltaToCumulative {
  private readonly sums = new Map<string, SumState>();
  private readonly hists = new Map<string, HistState>();
  private readonly exps = new Map<string, ExpHistState>();
  private readonly idleMs: number;
  private lastSweep = Date.now();

  constructor(idleMs = 3_600_000) {
    this.idleMs = idleMs;
  }

  get size(): number {
    return this.sums.size + this.hists.size + this.exps.size;
  }

  /** Rewrites delta metrics of `batch` in place as cumulative ones; returns the batch. */
  apply(batch: MetricsBatch, nowMs = Date.now()): MetricsBatch {
    if (nowMs - this.lastSweep > this.idleMs) this.sweep(nowMs);
    for (const rm of batch.resourceMetrics) {
      let resourceKey: string | undefined;
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) {
          if (m.type === 'gauge' || m.type === 'summary' || m.temporality !== 'delta') continue;
          resourceKey ??= attributesKey(rm.resource.attributes);
          const prefix = `${m.type}\u0000${m.name}\u0000${m.unit}\u0000${resourceKey}\u0000${sm.scope.name}\u0000${sm.scope.version}\u0000`;
          if (m.type === 'sum') for (const p of m.points) this.sum(prefix + attributesKey(p.attributes), p, nowMs);
          else if (m.type === 'histogram') for (const p of m.points) this.histogram(prefix + attributesKey(p.attributes), p, nowMs);
          else for (const p of m.points) this.expHistogram(prefix + attributesKey(p.attributes), p, nowMs);
          m.temporality = 'cumulative';
        }
      }
    }
    return batch;
  }

  private sum(key: string, p: NumberPoint, nowMs: number): void {
    if (((p.flags ?? 0) & NO_RECORDED_VALUE) !== 0) return;
    let s = this.sums.get(key);
    if (!s) {
      s = { start: p.startTimeUnixNano || p.timeUnixNano, time: 0, seenAt: nowMs, value: 0 };
      this.sums.set(key, s);
    }
    s.value += p.value;
    s.seenAt = nowMs;
    s.time = nextTime(s.time, p.timeUnixNano);
    p.value = s.value;
    p.startTimeUnixNano = s.start;
    p.timeUnixNano = s.time;
  }

  private histogram(key: string, p: HistogramPoint, nowMs: number): void {
    if (((p.flags ?? 0) & NO_RECORDED_VALUE) !== 0) return;
    let s = this.hists.get(key);
    if (!s || !sameBounds(s.bounds, p.explicitBounds)) {
      s = { start: p.startTimeUnixNano || p.timeUnixNano, time: 0, seenAt: nowMs, count: 0, sum: 0, bounds: p.explicitBounds.slice(), counts: new Array(p.bucketCounts.length).fill(0) };
      this.hists.set(key, s);
    }
    s.count += p.count;
    s.sum += p.sum ?? 0;
    for (let i = 0; i < s.counts.length; i++) s.counts[i] += p.bucketCounts[i] ?? 0;
    s.seenAt = nowMs;
    s.time = nextTime(s.time, p.timeUnixNano);
    p.count = s.count;
    p.sum = s.sum;
    p.bucketCounts = s.counts.slice();
    // min/max of one interval say nothing about the whole series.
    p.min = undefined;
    p.max = undefined;
    p.startTimeUnixNano = s.start;
    p.timeUnixNano = s.time;
  }

  private expHistogram(key: string, p: ExpHistogramPoint, nowMs: number): void {
    if (((p.flags ?? 0) & NO_RECORDED_VALUE) !== 0) return;
    const delta = expStateFromPoint(p);
    let s = this.exps.get(key);
    if (!s) {
      s = { start: p.startTimeUnixNano || p.timeUnixNano, time: 0, seenAt: nowMs, state: delta };
      this.exps.set(key, s);
    } else {
      mergeExpState(s.state, delta);
    }
    s.seenAt = nowMs;
    s.time = nextTime(s.time, p.timeUnixNano);
    const st = s.state;
    p.scale = st.scale;
    p.count = st.count;
    p.sum = st.sum;
    p.zeroCount = st.zeroCount;
    p.zeroThreshold = st.zeroThreshold;
    p.positive = { offset: st.posOffset, bucketCounts: st.pos.slice() };
    p.negative = { offset: st.negOffset, bucketCounts: st.neg.slice() };
    p.min = undefined;
    p.max = undefined;
    p.startTimeUnixNano = s.start;
    p.timeUnixNano = s.time;
  }

  private sweep(nowMs: number): void {
    this.lastSweep = nowMs;
    const cutoff = nowMs - this.idleMs;
    for (const map of [this.sums, this.hists, this.exps] as Array<Map<string, { seenAt: number }>>) {
      for (const [k, s] of map) if (s.seenAt < cutoff) map.delete(k);
    }
  }
}

function nextTime(prev: number, t: number): number {
  return t > prev ? t : prev + ONE_MS_NS;
}
