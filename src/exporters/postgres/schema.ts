/**
 * The exporter's tables, created and migrated at start, idempotently.
 *
 * Migrations are numbered and recorded in `<schema>.schema_migrations`; all
 * of them run in one transaction that first takes a transaction-scoped
 * advisory lock, so two daemons starting at once apply each migration exactly
 * once (the second waits, then finds nothing left to do). DDL is
 * transactional in PostgreSQL, so a failed migration leaves nothing behind.
 */
import type { PoolClient } from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: (schema: string) => string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'metric_points, metric_rollups, export_batches',
    sql: (s) => `
CREATE TABLE ${s}.metric_points (
  time            timestamptz NOT NULL,
  start_time      timestamptz,
  metric          text NOT NULL,
  type            text NOT NULL,
  unit            text NOT NULL DEFAULT '',
  temporality     text,
  value           double precision,
  count           bigint,
  sum             double precision,
  min             double precision,
  max             double precision,
  bucket_bounds   double precision[],
  bucket_counts   bigint[],
  exp_scale       integer,
  exp_zero_count  bigint,
  quantiles       jsonb,
  attributes      jsonb NOT NULL DEFAULT '{}',
  resource        jsonb NOT NULL DEFAULT '{}',
  tenant_id       text
) PARTITION BY RANGE (time);
CREATE INDEX metric_points_tenant_metric_time ON ${s}.metric_points (tenant_id, metric, time);

CREATE TABLE ${s}.metric_rollups (
  period_start        timestamptz NOT NULL,
  period              interval NOT NULL,
  tenant_id           text,
  metric              text NOT NULL,
  attributes          jsonb NOT NULL,
  series_id           uuid NOT NULL,
  type                text NOT NULL,
  unit                text NOT NULL DEFAULT '',
  count               bigint NOT NULL DEFAULT 0,
  sum                 double precision,
  min                 double precision,
  max                 double precision,
  p50                 double precision,
  p95                 double precision,
  p99                 double precision,
  bucket_bounds       double precision[],
  bucket_counts       bigint[],
  exp_scale           integer,
  exp_zero_count      bigint,
  exp_positive_offset integer,
  exp_positive_counts bigint[],
  exp_negative_offset integer,
  exp_negative_counts bigint[],
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (metric, period, period_start, series_id)
);
CREATE INDEX metric_rollups_tenant_metric_period ON ${s}.metric_rollups (tenant_id, metric, period, period_start);

CREATE TABLE ${s}.export_batches (
  batch_id      uuid PRIMARY KEY,
  points        integer NOT NULL,
  committed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX export_batches_committed_at ON ${s}.export_batches (committed_at);

-- Row-level security ready: inert until ENABLE ROW LEVEL SECURITY (see docs/postgres.md).
CREATE POLICY tenant_isolation ON ${s}.metric_points
  USING (tenant_id = current_setting('tributary.tenant_id', true));
CREATE POLICY tenant_isolation ON ${s}.metric_rollups
  USING (tenant_id = current_setting('tributary.tenant_id', true));
`,
  },
  {
    version: 2,
    name: 'metric_rollup_parts',
    // Each batch's rollup contribution, written by COPY in the batch's transaction and merged into
    // metric_rollups by the compactor (claimed with SKIP LOCKED and deleted in the merge's transaction).
    sql: (s) => `
CREATE TABLE ${s}.metric_rollup_parts (
  metric              text NOT NULL,
  series_id           uuid NOT NULL,
  part_start          timestamptz NOT NULL,
  part_ms             bigint NOT NULL,
  tenant_id           text,
  attributes          text NOT NULL,
  type                text NOT NULL,
  unit                text NOT NULL,
  count               double precision NOT NULL,
  sum                 double precision,
  min                 double precision,
  max                 double precision,
  bucket_bounds       double precision[],
  bucket_counts       double precision[],
  exp_scale           integer,
  exp_zero_count      double precision,
  exp_positive_offset integer,
  exp_positive_counts double precision[],
  exp_negative_offset integer,
  exp_negative_counts double precision[]
);
-- Element-wise sum of bucket count arrays, so the compactor can pre-add parts of the same
-- series, period and bucket layout in the database and read one row per group.
CREATE FUNCTION ${s}.array_add(a double precision[], b double precision[]) RETURNS double precision[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
  $$ SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a
                 ELSE ARRAY(SELECT coalesce(x, 0) + coalesce(y, 0) FROM unnest(a, b) AS u(x, y)) END $$;
CREATE AGGREGATE ${s}.array_sum(double precision[]) (SFUNC = ${s}.array_add, STYPE = double precision[]);
`,
  },
  {
    version: 3,
    name: 'array_add in plpgsql, strict',
    // The SQL version ran a subquery per part and was called for the NULL arrays too: most of the
    // server's time in the compactor's claim. STRICT lets the aggregate skip NULLs and start from the
    // first non-NULL array (what the CASE did); the loop pads the shorter array with zeros, as before.
    sql: (s) => `
CREATE OR REPLACE FUNCTION ${s}.array_add(a double precision[], b double precision[]) RETURNS double precision[]
  LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
  $$
  DECLARE
    n integer := greatest(cardinality(a), cardinality(b));
    r double precision[] := array_fill(0::double precision, ARRAY[n]);
  BEGIN
    FOR i IN 1..n LOOP
      r[i] := coalesce(a[i], 0) + coalesce(b[i], 0);
    END LOOP;
    RETURN r;
  END
  $$;
`,
  },
];

/** A stable 64-bit advisory lock key for a schema (FNV-1a), as a decimal string for a bigint parameter. */
export function lockKey(scope: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(scope, 'utf8')) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return BigInt.asIntN(64, h).toString();
}

/** Create or migrate the schema; returns the versions applied by this call. */
export async function migrate(client: PoolClient, schema: string): Promise<number[]> {
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(`tributary.schema:${schema}`)]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations`);
    const done = new Set(rows.map((r) => r.version));
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query(m.sql(schema));
      await client.query(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return applied;
}
