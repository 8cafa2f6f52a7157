/**
 * End to end: OpenTelemetry SDK apps of three tenants → the real daemon
 * (OTLP/HTTP receiver → batch → postgres exporter) → a real PostgreSQL. The
 * apps use the SDK's default cumulative temporality; the rollups must hold
 * the per-period increases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startDaemon, freePort, eventually, type DaemonHandle } from './harness/daemon.ts';
import { createOtelApp, type OtelApp } from './harness/otel-app.ts';
import { startPostgres, type PostgresHandle } from './harness/postgres.ts';

const BOUNDS = [10, 50, 100, 500];
const TENANTS = ['acme', 'globex', 'initech'];

let db: PostgresHandle;
let daemon: DaemonHandle;
let client: pg.Client;
let endpoint: string;

beforeAll(async () => {
  db = await startPostgres();
  const port = await freePort();
  endpoint = `127.0.0.1:${port}`;
  daemon = await startDaemon({
    config: `
receivers:
  otlp:
    protocols:
      http: { endpoint: ${endpoint} }
processors:
  batch: { timeout: 100ms }
exporters:
  postgres:
    dsn: "${db.url}"
    schema: e2e
    rollup_flush_interval: 200ms
    retry_on_failure: { initial_interval: 100ms }
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [postgres]
`,
  });
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await daemon?.stop();
  await db?.stop();
});

/** Latencies per tenant: distinct so each tenant's percentiles differ. */
function latencies(tenant: number, round: number): number[] {
  return Array.from({ length: 40 + tenant * 10 }, (_, i) => ((i * 37 + round * 11) % 600) + tenant);
}

describe('postgres exporter end to end', () => {
  it('stores every point and per-tenant rollups with exact sums and bucket-accurate percentiles', async () => {
    const apps: OtelApp[] = TENANTS.map((t) =>
      createOtelApp({ protocol: 'http/protobuf', endpoint, resource: { 'tenant.id': t }, histogramBoundaries: { 'http.latency': BOUNDS } }),
    );
    const expected = TENANTS.map(() => ({ tokens: 0, values: [] as number[] }));
    for (let round = 0; round < 2; round++) {
      for (let t = 0; t < apps.length; t++) {
        const meter = apps[t].meter;
        const tokens = meter.createCounter('llm.tokens');
        const latency = meter.createHistogram('http.latency', { unit: 'ms' });
        const n = 100 * (t + 1) + round * 7;
        tokens.add(n, { model: 'small' });
        expected[t].tokens += n;
        for (const v of latencies(t, round)) {
          latency.record(v, { route: '/chat' });
          expected[t].values.push(v);
        }
        await apps[t].flush();
      }
    }
    // Two exports per app, each with one counter and one histogram point.
    const points = await eventually(async () => {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM e2e.metric_points`).catch(() => ({ rows: [{ n: 0 }] }));
      return rows[0].n === TENANTS.length * 4 ? rows[0].n : 0;
    });
    expect(points).toBe(TENANTS.length * 4);
    const perTenant = await client.query(`SELECT tenant_id, metric, count(*)::int AS n FROM e2e.metric_points GROUP BY 1, 2 ORDER BY 1, 2`);
    expect(perTenant.rows).toEqual(TENANTS.flatMap((t) => [{ tenant_id: t, metric: 'http.latency', n: 2 }, { tenant_id: t, metric: 'llm.tokens', n: 2 }]));

    for (let t = 0; t < TENANTS.length; t++) {
      const tenant = TENANTS[t];
      const tokens = await eventually(async () => {
        const { rows } = await client.query(
          `SELECT sum(count)::int AS count, sum(sum) AS sum FROM e2e.metric_rollups WHERE tenant_id = $1 AND metric = 'llm.tokens' AND period = interval '1 hour'`,
          [tenant],
        );
        return rows[0].sum === expected[t].tokens ? rows[0] : undefined;
      });
      expect(tokens).toEqual({ count: 2, sum: expected[t].tokens });

      const lat = await eventually(async () => {
        const { rows } = await client.query(
          `SELECT count, sum, p50, p95, p99, attributes FROM e2e.metric_rollups
            WHERE tenant_id = $1 AND metric = 'http.latency' AND period = interval '1 hour' ORDER BY count DESC`,
          [tenant],
        );
        const total = rows.reduce((a, r) => a + Number(r.count), 0);
        return total === expected[t].values.length ? rows : undefined;
      });
      expect(lat).toBeDefined();
      expect(lat![0].attributes).toEqual({ route: '/chat' });
      const sum = lat!.reduce((a, r) => a + r.sum, 0);
      expect(sum).toBeCloseTo(expected[t].values.reduce((a, b) => a + b, 0), 6);
      if (lat!.length === 1) {
        // Both exports fell in one hour: the row's percentiles cover every value.
        const sorted = expected[t].values.slice().sort((a, b) => a - b);
        for (const [q, col] of [[0.5, 'p50'], [0.95, 'p95'], [0.99, 'p99']] as const) {
          const exact = sorted[Math.ceil(q * sorted.length) - 1];
          let i = 0;
          while (i < BOUNDS.length && exact > BOUNDS[i]) i++;
          const lo = i === 0 ? sorted[0] : BOUNDS[i - 1];
          const hi = i === BOUNDS.length ? sorted[sorted.length - 1] : BOUNDS[i];
          expect(lat![0][col]).toBeGreaterThanOrEqual(lo);
          expect(lat![0][col]).toBeLessThanOrEqual(hi);
        }
      }
    }
    expect(await daemon.selfMetric('tributary_exporter_sent_points_total', { exporter: 'postgres' })).toBe(TENANTS.length * 4);
    expect(await daemon.selfMetric('tributary_exporter_failed_points_total', { exporter: 'postgres' })).toBe(0);
    await Promise.all(apps.map((a) => a.shutdown()));
  });
});
