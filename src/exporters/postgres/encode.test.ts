/**
 * encodeBatch without a database: the points' COPY rows, the batch id, and
 * the rollup parts, both as a lone contribution kept as text and as one
 * merged when a series brings several points in one part period.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DeltaTracker } from './delta.ts';
import { encodeBatch, PART_COLUMNS, POINT_COLUMNS, type EncodedBatch } from './encode.ts';
import { batchOf, deltaSum, gauge, histogramOf } from './testdata.ts';

const MINUTE = 60_000;
const base = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;

function encode(batch: ReturnType<typeof batchOf>, deltas = new DeltaTracker(0)): EncodedBatch {
  return encodeBatch(batch, { tenantAttribute: 'tenant.id', partMs: MINUTE, retentionCutoffMs: Date.now() - 86_400_000, seriesCache: new Map() }, deltas);
}

/** Part rows as column → text, sorted by metric, series and start. */
function partRows(enc: EncodedBatch): Array<Record<string, string>> {
  return enc.partsCopy
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => Object.fromEntries(line.split('\t').map((v, i) => [PART_COLUMNS[i], v])))
    .sort((a, b) => (a.metric + a.attributes + a.part_start < b.metric + b.attributes + b.part_start ? -1 : 1));
}

describe('encodeBatch', () => {
  it('writes one COPY row per point and hashes exactly those bytes into the batch id', () => {
    const enc = encode(batchOf({ 'tenant.id': 'acme' }, [deltaSum('tokens', [{ attrs: { m: 'a\tb' }, value: 5, timeMs: base + 1000 }])]));
    const rows = enc.copy.toString('utf8').split('\n').filter(Boolean);
    expect(rows).toHaveLength(1);
    const row = Object.fromEntries(rows[0].split('\t').map((v, i) => [POINT_COLUMNS[i], v]));
    expect(row).toMatchObject({ metric: 'tokens', type: 'sum', value: '5', tenant_id: 'acme', attributes: '{"m":"a\\\\tb"}' });
    expect(row.start_time).toBe(new Date(base + 1000 - 10_000).toISOString().replace('Z', '000Z'));
    const digest = createHash('sha256').update(enc.copy).digest('hex');
    expect(enc.batchId.replace(/-/g, '')).toBe(digest.slice(0, 32));
  });

  it('keeps a lone counter value or histogram as its text, and merges a second point of the series in the period', () => {
    const bounds = [1, 10, 100];
    const enc = encode(
      batchOf({ 'tenant.id': 'acme' }, [
        deltaSum('tokens', [
          { attrs: { m: 'one' }, value: 5, timeMs: base + 1000 },
          { attrs: { m: 'two' }, value: 7, timeMs: base + 1000 },
          { attrs: { m: 'two' }, value: 2.5, timeMs: base + 2000 },
          { attrs: { m: 'two' }, value: 4, timeMs: base + MINUTE + 1000 },
        ]),
        histogramOf('latency', bounds, [
          { attrs: { r: 'a' }, values: [0.5, 5, 50], timeMs: base + 1000 },
          { attrs: { r: 'b' }, values: [5, 500], timeMs: base + 1000 },
          { attrs: { r: 'b' }, values: [0.1, 20], timeMs: base + 3000 },
        ]),
        gauge('mem', [
          { attrs: {}, value: 100, timeMs: base + 1000 },
          { attrs: {}, value: 300, timeMs: base + 2000 },
        ]),
      ]),
    );
    expect(enc.rows).toBe(9);
    const parts = partRows(enc);
    const pick = (r: Record<string, string>) => [r.metric, r.attributes, r.count, r.sum, r.min, r.max, r.bucket_bounds, r.bucket_counts];
    expect(parts.map(pick)).toEqual([
      ['latency', '{"r":"a"}', '3', '55.5', '0.5', '50', '{1,10,100}', '{1,1,1,0}'],
      ['latency', '{"r":"b"}', '4', '525.1', '0.1', '500', '{1,10,100}', '{1,1,1,1}'],
      ['mem', '{}', '2', '400', '100', '300', '\\N', '\\N'],
      ['tokens', '{"m":"one"}', '1', '5', '5', '5', '\\N', '\\N'],
      ['tokens', '{"m":"two"}', '2', '9.5', '2.5', '7', '\\N', '\\N'],
      ['tokens', '{"m":"two"}', '1', '4', '4', '4', '\\N', '\\N'],
    ]);
    expect(enc.parts).toBe(6);
    for (const r of parts) {
      expect(Object.keys(r)).toHaveLength(PART_COLUMNS.length);
      expect(r).toMatchObject({ tenant_id: 'acme', part_ms: '60000' });
      expect(r.series_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    // The gauge's part carries its exponential sketch.
    expect(parts[2].exp_scale).not.toBe('\\N');
    expect(parts.filter((r) => r.metric === 'tokens').map((r) => r.part_start)).toEqual([
      new Date(base).toISOString(),
      new Date(base).toISOString(),
      new Date(base + MINUTE).toISOString(),
    ]);
  });

  it('prints part counts unrounded (double precision) while the point stores them rounded (bigint)', () => {
    const metric = histogramOf('w', [10], [{ attrs: {}, values: [1, 20], timeMs: base + 1000 }]);
    const p = metric.points[0] as { bucketCounts: number[]; count: number };
    p.bucketCounts = [0.5, 1.5];
    p.count = 2;
    const enc = encode(batchOf({}, [metric]));
    expect(enc.copy.toString('utf8')).toContain('\t{10}\t{1,2}\t');
    expect(partRows(enc)[0]).toMatchObject({ count: '2', bucket_bounds: '{10}', bucket_counts: '{0.5,1.5}' });
  });

  it('writes no part for a cumulative point that only sets the baseline', () => {
    const deltas = new DeltaTracker(Date.now() * 1e6);
    const cumulative = deltaSum('c', [{ attrs: {}, value: 10, timeMs: base + 1000 }]);
    (cumulative as { temporality: string }).temporality = 'cumulative';
    const first = encode(batchOf({}, [cumulative]), deltas);
    expect([first.rows, first.parts]).toEqual([1, 0]);
    const next = deltaSum('c', [{ attrs: {}, value: 25, timeMs: base + 2000 }]);
    (next as { temporality: string }).temporality = 'cumulative';
    next.points[0].startTimeUnixNano = cumulative.points[0].startTimeUnixNano;
    const second = encode(batchOf({}, [next]), deltas);
    expect(partRows(second).map((r) => [r.count, r.sum])).toEqual([['1', '15']]);
  });
});
