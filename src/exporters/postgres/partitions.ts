/**
 * Daily partitions of `metric_points`: created ahead of need (on a timer for
 * the coming days, and before a COPY for any day a batch touches, so late and
 * future points always have a home), and dropped once older than retention.
 *
 * Partitions are named `metric_points_pYYYYMMDD` and cover one UTC day;
 * only tables following that name are ever dropped. DDL on the parent runs
 * in its own short transaction under an advisory lock, never inside a data
 * transaction, so two daemons never race on the same partition.
 */
import type { Pool } from 'pg';
import { DAY_MS } from './encode.ts';
import { lockKey } from './schema.ts';
import { acquire, release } from './pool.ts';

const NAME_RE = /^metric_points_p(\d{4})(\d{2})(\d{2})$/;

export function partitionName(day: number): string {
  const d = new Date(day * DAY_MS);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  const dd = d.getUTCDate();
  return `metric_points_p${y}${m < 10 ? '0' : ''}${m}${dd < 10 ? '0' : ''}${dd}`;
}

export function dayOfPartition(name: string): number | undefined {
  const m = NAME_RE.exec(name);
  if (!m) return undefined;
  return Math.floor(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS);
}

export class Partitions {
  private readonly pool: Pool;
  private readonly schema: string;
  private readonly lock: string;
  /** Days known to have a partition (refreshed from the catalog when in doubt). */
  private known = new Set<number>();
  private loaded = false;

  constructor(pool: Pool, schema: string) {
    this.pool = pool;
    this.schema = schema;
    this.lock = lockKey(`tributary.partitions:${schema}`);
  }

  /** Forget the cache, e.g. after an error saying a partition is missing. */
  invalidate(): void {
    this.known.clear();
    this.loaded = false;
  }

  /** Make sure every day in `days` has a partition. */
  async ensure(days: Iterable<number>): Promise<void> {
    let missing = this.missing(days);
    if (missing.length === 0) return;
    if (!this.loaded) {
      await this.refresh();
      missing = this.missing(missing);
      if (missing.length === 0) return;
    }
    const client = await acquire(this.pool);
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [this.lock]);
      for (const day of missing.sort((a, b) => a - b)) {
        const from = new Date(day * DAY_MS).toISOString();
        const to = new Date((day + 1) * DAY_MS).toISOString();
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${this.schema}.${partitionName(day)} PARTITION OF ${this.schema}.metric_points FOR VALUES FROM ('${from}') TO ('${to}')`,
        );
      }
      await client.query('COMMIT');
      for (const day of missing) this.known.add(day);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      release(client, err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    release(client);
  }

  /** Days with a partition, from the catalog. */
  async list(): Promise<number[]> {
    const { rows } = await this.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent
         JOIN pg_namespace n ON n.oid = p.relnamespace
        WHERE n.nspname = $1 AND p.relname = 'metric_points'`,
      [this.schema],
    );
    const days: number[] = [];
    for (const r of rows) {
      const d = dayOfPartition(r.name);
      if (d !== undefined) days.push(d);
    }
    return days.sort((a, b) => a - b);
  }

  /** Drop partitions whose whole day ended at or before `cutoffMs`; returns the days dropped. */
  async dropBefore(cutoffMs: number): Promise<number[]> {
    const expired = (await this.list()).filter((day) => (day + 1) * DAY_MS <= cutoffMs);
    if (expired.length === 0) return [];
    const client = await acquire(this.pool);
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [this.lock]);
      for (const day of expired) await client.query(`DROP TABLE IF EXISTS ${this.schema}.${partitionName(day)}`);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      release(client, err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    release(client);
    for (const day of expired) this.known.delete(day);
    return expired;
  }

  private async refresh(): Promise<void> {
    this.known = new Set(await this.list());
    this.loaded = true;
  }

  private missing(days: Iterable<number>): number[] {
    const out: number[] = [];
    for (const d of days) if (!this.known.has(d)) out.push(d);
    return out;
  }
}
