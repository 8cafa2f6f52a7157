/**
 * Embedded Metric Format: the same datums written as JSON log lines that
 * CloudWatch Logs turns into metrics (Lambda, Fargate with a log router,
 * Container Insights). One document per timestamp and dimension set, at most
 * 100 metrics each; rollups become extra dimension sets of the same document
 * instead of extra datums.
 */
import fs from 'node:fs';
import type { CwDatum } from './translate.ts';
import type { Rollup } from './config.ts';

const MAX_METRICS_PER_DOC = 100;

interface Doc {
  metrics: Array<{ Name: string; Unit: string; StorageResolution?: number }>;
  fields: Record<string, unknown>;
}

/** EMF values: a number, or the histogram shapes CloudWatch Logs understands. */
function emfValue(d: CwDatum): unknown {
  if (d.Value !== undefined) return d.Value;
  if (d.StatisticValues !== undefined) {
    const s = d.StatisticValues;
    return { Count: s.SampleCount, Sum: s.Sum, Min: s.Minimum, Max: s.Maximum };
  }
  const values = d.Values ?? [];
  const counts = d.Counts ?? [];
  let count = 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    count += counts[i];
    sum += values[i] * counts[i];
  }
  return { Values: values, Counts: counts, Count: count, Sum: sum, Min: values[0], Max: values[values.length - 1] };
}

function dimensionSets(names: string[], rollup: Rollup): string[][] {
  const sets = [names];
  if (rollup === 'ZeroAndSingleDimensionRollup' && names.length > 0) sets.push([]);
  if (rollup !== 'NoDimensionRollup' && names.length > 1) for (const n of names) sets.push([n]);
  return sets;
}

/** Datums (without rollup copies) → EMF JSON lines. */
export function encodeEmf(datums: CwDatum[], namespace: string, rollup: Rollup): string {
  const groups = new Map<string, { ts: number; dims: CwDatum['Dimensions']; docs: Doc[] }>();
  for (const d of datums) {
    const ts = d.Timestamp.getTime();
    const key = ts + '\u0000' + d.Dimensions.map((x) => x.Name + '\u0001' + x.Value).join('\u0002');
    let g = groups.get(key);
    if (!g) {
      g = { ts, dims: d.Dimensions, docs: [] };
      groups.set(key, g);
    }
    let doc = g.docs[g.docs.length - 1];
    // A name already used in the document, or a full document, starts a new one.
    if (!doc || doc.metrics.length >= MAX_METRICS_PER_DOC || d.MetricName in doc.fields) {
      doc = { metrics: [], fields: {} };
      for (const dim of g.dims) doc.fields[dim.Name] = dim.Value;
      g.docs.push(doc);
    }
    if (d.Dimensions.some((x) => x.Name === d.MetricName)) continue;
    doc.metrics.push({ Name: d.MetricName, Unit: d.Unit, ...(d.StorageResolution === 1 ? { StorageResolution: 1 } : {}) });
    doc.fields[d.MetricName] = emfValue(d);
  }
  let out = '';
  for (const g of groups.values()) {
    const sets = dimensionSets(g.dims.map((x) => x.Name), rollup);
    for (const doc of g.docs) {
      if (doc.metrics.length === 0) continue;
      const body = { _aws: { Timestamp: g.ts, CloudWatchMetrics: [{ Namespace: namespace, Dimensions: sets, Metrics: doc.metrics }] }, ...doc.fields };
      out += JSON.stringify(body) + '\n';
    }
  }
  return out;
}

/** Where EMF lines go: stdout (the container log) or a file appended to. */
export class EmfWriter {
  private readonly target: string;
  private stream: fs.WriteStream | undefined;

  constructor(target: string) {
    this.target = target;
  }

  async open(): Promise<void> {
    if (this.target === 'stdout') return;
    const stream = fs.createWriteStream(this.target, { flags: 'a' });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    this.stream = stream;
  }

  write(text: string): Promise<void> {
    if (text === '') return Promise.resolve();
    const s: NodeJS.WritableStream = this.stream ?? process.stdout;
    return new Promise((resolve, reject) => {
      s.write(text, (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    if (s) await new Promise<void>((resolve) => s.end(() => resolve()));
  }
}
