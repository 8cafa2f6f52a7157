/**
 * One encoded batch → one transaction, exactly once:
 *
 *   BEGIN
 *   INSERT INTO export_batches (batch_id) … ON CONFLICT DO NOTHING   -- seen before? then ROLLBACK: already stored
 *   COPY metric_points FROM STDIN                                    -- every point, one stream
 *   COPY metric_rollup_parts FROM STDIN                              -- the batch's rollup contribution
 *   COMMIT
 *
 * and, apart, the compactor merging parts into `metric_rollups`:
 *
 *   BEGIN
 *   DELETE FROM metric_rollup_parts … (SKIP LOCKED claim) RETURNING *
 *   insert missing rollup rows, lock them (FOR UPDATE, in key order),
 *   merge the parts into what is stored, recompute percentiles, UPDATE
 *   COMMIT
 *
 * Merging per batch would read-modify-write every series of every batch;
 * parts let one merge serve all the batches of a flush interval, and keep
 * the batch transaction to two COPY streams. A part is merged exactly once
 * because it is deleted in the transaction that merges it.
 *
 * A batch retried after a timeout or a dropped connection either rolled back
 * (nothing stored, so it is written now) or committed before the ack was
 * lost (its id is in export_batches, so it is skipped). The batch id is a
 * hash of the batch's rows, so it is the same on every attempt and after a
 * restart that replays a disk queue. Rollups are merged in the same
 * transaction, so they never count a batch that the points table lacks, nor
 * twice. Locks are taken in one global order (metric, period, start, series)
 * so concurrent writers do not deadlock; if they still do (40P01) the batch
 * is retried whole.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PART_COLUMNS, POINT_COLUMNS, type EncodedBatch, type RollupEntry } from './encode.ts';
import { mergeAcc, newAcc, quantiles, type RollupAcc } from './rollup.ts';
import { acquire, release } from './pool.ts';

export type WriteResult = 'written' | 'duplicate';

export class Writer {
  private readonly pool: Pool;
  private readonly schema: string;
  private readonly copySql: string;
  private readonly copyPartsSql: string;

  constructor(pool: Pool, schema: string) {
    this.pool = pool;
    this.schema = schema;
    this.copySql = `COPY ${schema}.metric_points (${POINT_COLUMNS.join(', ')}) FROM STDIN`;
    this.copyPartsSql = `COPY ${schema}.metric_rollup_parts (${PART_COLUMNS.join(', ')}) FROM STDIN`;
  }

  /**
   * Merge up to `limit` pending parts into `metric_rollups` for each of
   * `intervalsMs`; returns how many parts were merged (0 when none were pending).
   */
  async compact(intervalsMs: number[], limit: number): Promise<number> {
    const client = await acquire(this.pool);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      // Claim parts (SKIP LOCKED: another compactor takes others), and add up in the database those that
      // share series, part period and bucket layout: the daemon reads one row per group, not per batch
      // (groupParts folds part periods into each interval's periods). The text columns are the same
      // within a group; "C" compares them bytewise instead of by the database's collation.
      const s = this.schema;
      const { rows } = await client.query<PartRow & { parts: string }>(
        `WITH claimed AS (
           DELETE FROM ${s}.metric_rollup_parts
            WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${s}.metric_rollup_parts LIMIT $1 FOR UPDATE SKIP LOCKED))
           RETURNING *)
         SELECT metric, series_id, (extract(epoch FROM part_start) * 1000)::float8 AS part_start,
                min(tenant_id COLLATE "C") AS tenant_id, min(attributes COLLATE "C") AS attributes,
                min(type COLLATE "C") AS type, min(unit COLLATE "C") AS unit,
                sum(count) AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
                bucket_bounds::text AS bucket_bounds, ${s}.array_sum(bucket_counts)::text AS bucket_counts,
                exp_scale, sum(exp_zero_count) AS exp_zero_count,
                exp_positive_offset, ${s}.array_sum(exp_positive_counts)::text AS exp_positive_counts,
                exp_negative_offset, ${s}.array_sum(exp_negative_counts)::text AS exp_negative_counts,
                count(*) AS parts
           FROM claimed
          GROUP BY metric, series_id, part_start, bucket_bounds, exp_scale, exp_positive_offset, exp_negative_offset`,
        [limit],
      );
      if (rows.length > 0) await this.upsertRollups(client, groupParts(rows, intervalsMs));
      await client.query('COMMIT');
      let claimed = 0;
      for (const r of rows) claimed += Number(r.parts);
      return claimed;
    } catch (err) {
      broken = err instanceof Error ? err : new Error(String(err));
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      release(client, broken);
    }
  }

  async write(batch: EncodedBatch, signal: AbortSignal): Promise<WriteResult> {
    signal.throwIfAborted();
    const client = await acquire(this.pool);
    // An aborted attempt (timeout, shutdown) kills the connection: the server rolls back
    // whatever had not committed, and the retry sorts out the rest by batch id.
    const onAbort = () => destroyConnection(client);
    signal.addEventListener('abort', onAbort, { once: true });
    let broken: Error | undefined;
    try {
      return await this.transaction(client, batch);
    } catch (err) {
      broken = err instanceof Error ? err : new Error(String(err));
      await client.query('ROLLBACK').catch(() => undefined);
      if (signal.aborted) throw signal.reason ?? err;
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
      // A connection that failed mid-transaction is not reused.
      release(client, broken);
    }
  }

  private async transaction(client: PoolClient, batch: EncodedBatch): Promise<WriteResult> {
    // One round trip: BEGIN and the idempotency claim (the id is our own hex uuid, safe to inline).
    const results = (await client.query(
      `BEGIN; INSERT INTO ${this.schema}.export_batches (batch_id, points) VALUES ('${batch.batchId}', ${batch.rows}) ON CONFLICT DO NOTHING RETURNING 1`,
    )) as unknown as Array<{ rowCount: number | null }>;
    if ((results[1]?.rowCount ?? 0) === 0) {
      await client.query('ROLLBACK');
      return 'duplicate';
    }
    if (batch.rows > 0) {
      const copy = client.query(copyFrom(this.copySql));
      await pipeline(Readable.from([batch.copy]), copy);
    }
    if (batch.parts > 0) {
      const copy = client.query(copyFrom(this.copyPartsSql));
      await pipeline(Readable.from([batch.partsCopy]), copy);
    }
    await client.query('COMMIT');
    return 'written';
  }

  /**
   * Parameters go as array literals built here (numbers joined, text quoted
   * once), and stored sketches come back as text: pg's generic array
   * serialiser and parser cost more than the rest of the merge.
   */
  async upsertRollups(client: PoolClient, entries: RollupEntry[]): Promise<void> {
    const s = this.schema;
    entries.sort(compareEntries);
    const metric = textArray(entries.map((e) => e.metric));
    const periodSecs = numberArray(entries.map((e) => e.periodMs / 1000));
    const periodStart = textArray(entries.map((e) => new Date(e.periodStartMs).toISOString()));
    const seriesId = textArray(entries.map((e) => e.seriesId));

    // 1. Make sure a row exists for every key, so that step 2 can lock it (a concurrent
    //    inserter of the same key makes us wait here until it commits).
    await client.query(
      `INSERT INTO ${s}.metric_rollups (metric, period, period_start, series_id, tenant_id, attributes, type, unit, count)
       SELECT k.m, make_interval(secs => k.p), k.ps, k.sid, k.t, k.a::jsonb, k.ty, k.u, 0
         FROM unnest($1::text[], $2::float8[], $3::timestamptz[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[])
              WITH ORDINALITY AS k(m, p, ps, sid, t, a, ty, u, i)
        ORDER BY k.i
       ON CONFLICT DO NOTHING`,
      [
        metric,
        periodSecs,
        periodStart,
        seriesId,
        textArray(entries.map((e) => e.tenantId)),
        textArray(entries.map((e) => e.attributesJson)),
        textArray(entries.map((e) => e.type)),
        textArray(entries.map((e) => e.unit)),
      ],
    );

    // 2. Lock and read what is stored, in key order.
    const { rows } = await client.query<StoredRow & { i: string }>(
      `SELECT k.i, r.count, r.sum, r.min, r.max, r.bucket_bounds::text, r.bucket_counts::text, r.exp_scale, r.exp_zero_count,
              r.exp_positive_offset, r.exp_positive_counts::text, r.exp_negative_offset, r.exp_negative_counts::text
         FROM unnest($1::text[], $2::float8[], $3::timestamptz[], $4::uuid[]) WITH ORDINALITY AS k(m, p, ps, sid, i)
         JOIN ${s}.metric_rollups r
           ON r.metric = k.m AND r.period = make_interval(secs => k.p) AND r.period_start = k.ps AND r.series_id = k.sid
        ORDER BY k.i
          FOR UPDATE OF r`,
      [metric, periodSecs, periodStart, seriesId],
    );
    const stored = new Map<number, StoredRow>();
    for (const r of rows) stored.set(Number(r.i) - 1, r);

    // 3. Merge in the daemon (percentiles need the whole sketch), then write back.
    const n = entries.length;
    const count: number[] = new Array(n);
    const sum: Array<number | null> = new Array(n);
    const min: Array<number | null> = new Array(n);
    const max: Array<number | null> = new Array(n);
    const p50: Array<number | null> = new Array(n);
    const p95: Array<number | null> = new Array(n);
    const p99: Array<number | null> = new Array(n);
    const bb: Array<string | null> = new Array(n);
    const bc: Array<string | null> = new Array(n);
    const es: Array<number | null> = new Array(n);
    const ez: Array<number | null> = new Array(n);
    const epo: Array<number | null> = new Array(n);
    const epc: Array<string | null> = new Array(n);
    const eno: Array<number | null> = new Array(n);
    const enc: Array<string | null> = new Array(n);
    for (let i = 0; i < n; i++) {
      const row = stored.get(i);
      let a = entries[i].acc;
      if (row !== undefined && Number(row.count) !== 0) {
        const acc = accFromRow(row);
        mergeAcc(acc, a);
        a = acc;
      }
      const explicit = a.kind === 'explicit';
      const exp = a.kind === 'exponential';
      const q = quantiles(a, PERCENTILES);
      count[i] = Math.round(a.count);
      sum[i] = a.sum;
      min[i] = a.min;
      max[i] = a.max;
      p50[i] = q[0];
      p95[i] = q[1];
      p99[i] = q[2];
      bb[i] = explicit ? arrayLiteral(a.bounds!, false) : null;
      bc[i] = explicit ? arrayLiteral(a.bucketCounts!, true) : null;
      es[i] = exp ? a.scale : null;
      ez[i] = exp ? Math.round(a.zeroCount) : null;
      epo[i] = exp ? a.positive.offset : null;
      epc[i] = exp ? arrayLiteral(a.positive.bucketCounts, true) : null;
      eno[i] = exp ? a.negative.offset : null;
      enc[i] = exp ? arrayLiteral(a.negative.bucketCounts, true) : null;
    }
    await client.query(
      `UPDATE ${s}.metric_rollups r
          SET count = v.c, sum = v.su, min = v.mi, max = v.ma, p50 = v.q50, p95 = v.q95, p99 = v.q99,
              bucket_bounds = v.bb::float8[], bucket_counts = v.bc::bigint[],
              exp_scale = v.es, exp_zero_count = v.ez,
              exp_positive_offset = v.epo, exp_positive_counts = v.epc::bigint[],
              exp_negative_offset = v.eno, exp_negative_counts = v.enc::bigint[],
              updated_at = now()
         FROM unnest($1::text[], $2::float8[], $3::timestamptz[], $4::uuid[], $5::bigint[], $6::float8[], $7::float8[], $8::float8[],
                     $9::float8[], $10::float8[], $11::float8[], $12::text[], $13::text[], $14::int[], $15::bigint[],
                     $16::int[], $17::text[], $18::int[], $19::text[])
              AS v(m, p, ps, sid, c, su, mi, ma, q50, q95, q99, bb, bc, es, ez, epo, epc, eno, enc)
        WHERE r.metric = v.m AND r.period = make_interval(secs => v.p) AND r.period_start = v.ps AND r.series_id = v.sid`,
      [
        metric,
        periodSecs,
        periodStart,
        seriesId,
        numberArray(count),
        numberArray(sum),
        numberArray(min),
        numberArray(max),
        numberArray(p50),
        numberArray(p95),
        numberArray(p99),
        textArray(bb),
        textArray(bc),
        numberArray(es),
        numberArray(ez),
        numberArray(epo),
        textArray(epc),
        numberArray(eno),
        textArray(enc),
      ],
    );
  }
}

const PERCENTILES = [0.5, 0.95, 0.99] as const;

interface PartRow {
  metric: string;
  series_id: string;
  part_start: number;
  tenant_id: string | null;
  attributes: string;
  type: string;
  unit: string;
  count: number;
  sum: number | null;
  min: number | null;
  max: number | null;
  bucket_bounds: string | null;
  bucket_counts: string | null;
  exp_scale: number | null;
  exp_zero_count: number | null;
  exp_positive_offset: number | null;
  exp_positive_counts: string | null;
  exp_negative_offset: number | null;
  exp_negative_counts: string | null;
}

/** Parts → one entry per (metric, interval, period, series), merged. */
export function groupParts(rows: PartRow[], intervalsMs: number[]): RollupEntry[] {
  const out = new Map<string, RollupEntry>();
  for (const r of rows) {
    const part = partAcc(r);
    for (const interval of intervalsMs) {
      const start = r.part_start - (((r.part_start % interval) + interval) % interval);
      const key = r.metric + '\u0001' + interval + '\u0001' + start + '\u0001' + r.series_id;
      let e = out.get(key);
      if (e === undefined) {
        e = { metric: r.metric, type: r.type, unit: r.unit, periodMs: interval, periodStartMs: start, tenantId: r.tenant_id, attributesJson: r.attributes, seriesId: r.series_id, acc: newAcc() };
        out.set(key, e);
      }
      mergeAcc(e.acc, part);
    }
  }
  return [...out.values()];
}

function partAcc(r: PartRow): RollupAcc {
  const acc = newAcc();
  acc.count = r.count;
  acc.sum = r.sum;
  acc.min = r.min;
  acc.max = r.max;
  if (r.bucket_bounds !== null && r.bucket_counts !== null) {
    acc.kind = 'explicit';
    acc.bounds = parseArray(r.bucket_bounds);
    acc.bucketCounts = parseArray(r.bucket_counts);
  } else if (r.exp_scale !== null) {
    acc.kind = 'exponential';
    acc.scale = r.exp_scale;
    acc.zeroCount = r.exp_zero_count ?? 0;
    acc.positive = { offset: r.exp_positive_offset ?? 0, bucketCounts: parseArray(r.exp_positive_counts) };
    acc.negative = { offset: r.exp_negative_offset ?? 0, bucketCounts: parseArray(r.exp_negative_counts) };
  }
  return acc;
}

/** A one-dimensional numeric array literal without NULLs (`{1,2.5,3}`), faster than the generic parser. */
function parseArray(text: string | null): number[] {
  if (text === null || text.length <= 2) return [];
  return text.slice(1, -1).split(',').map(Number);
}

/** A locked metric_rollups row, its arrays as text. */
interface StoredRow {
  count: string;
  sum: number | null;
  min: number | null;
  max: number | null;
  bucket_bounds: string | null;
  bucket_counts: string | null;
  exp_scale: number | null;
  exp_zero_count: string | null;
  exp_positive_offset: number | null;
  exp_positive_counts: string | null;
  exp_negative_offset: number | null;
  exp_negative_counts: string | null;
}

export function accFromRow(row: StoredRow): RollupAcc {
  const acc = newAcc();
  acc.count = Number(row.count);
  acc.sum = row.sum;
  acc.min = row.min;
  acc.max = row.max;
  if (row.bucket_bounds !== null && row.bucket_counts !== null) {
    acc.kind = 'explicit';
    acc.bounds = parseArray(row.bucket_bounds);
    acc.bucketCounts = parseArray(row.bucket_counts);
  } else if (row.exp_scale !== null) {
    acc.kind = 'exponential';
    acc.scale = row.exp_scale;
    acc.zeroCount = Number(row.exp_zero_count ?? 0);
    acc.positive = { offset: row.exp_positive_offset ?? 0, bucketCounts: parseArray(row.exp_positive_counts) };
    acc.negative = { offset: row.exp_negative_offset ?? 0, bucketCounts: parseArray(row.exp_negative_counts) };
  }
  return acc;
}

function compareEntries(a: RollupEntry, b: RollupEntry): number {
  if (a.metric !== b.metric) return a.metric < b.metric ? -1 : 1;
  if (a.periodMs !== b.periodMs) return a.periodMs - b.periodMs;
  if (a.periodStartMs !== b.periodStartMs) return a.periodStartMs - b.periodStartMs;
  return a.seriesId < b.seriesId ? -1 : a.seriesId > b.seriesId ? 1 : 0;
}

function arrayLiteral(values: number[], integers: boolean): string {
  return '{' + values.map((v) => (integers ? String(Math.round(v)) : String(v))).join(',') + '}';
}

/** A one-dimensional array literal of numbers or NULLs (NaN and ±Infinity print as PostgreSQL reads them). */
function numberArray(values: Array<number | null>): string {
  let s = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) s += ',';
    const v = values[i];
    s += v === null ? 'NULL' : String(v);
  }
  return s + '}';
}

/** A one-dimensional text array literal: every element quoted, so no text is mistaken for NULL or a delimiter. */
function textArray(values: Array<string | null>): string {
  let s = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) s += ',';
    const v = values[i];
    s += v === null ? 'NULL' : '"' + (NEEDS_QUOTING.test(v) ? v.replace(/["\\]/g, '\\$&') : v) + '"';
  }
  return s + '}';
}

const NEEDS_QUOTING = /["\\]/;

function destroyConnection(client: PoolClient): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  stream?.destroy();
}
