/**
 * The `postgres` exporter's sender: the piece the exporter helper wraps with
 * queue, retry, timeout and breaker. It owns the connection pool, migrates
 * the schema (lazily, so a database that is down at start only delays data),
 * keeps partitions ahead of need and expired data dropped on a timer, and
 * turns each batch into one exactly-once transaction.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Host } from '../../component.ts';
import { nowUnixNano, type MetricsBatch } from '../../model/metrics.ts';
import type { SendOutcome, Sender } from '../helper/exporter.ts';
import { TributaryError, errorMessage } from '../../errors.ts';
import type { PostgresConfig } from './config.ts';
import { DAY_MS, encodeBatch, type EncodedBatch, type SeriesIdentity } from './encode.ts';
import { DeltaTracker } from './delta.ts';
import { migrate } from './schema.ts';
import { Partitions } from './partitions.ts';
import { Writer, type WriteResult } from './writer.ts';
import { classifyPgError, needsSchemaCheck } from './classify.ts';
import { acquire, release } from './pool.ts';

export interface PostgresSenderStats {
  written: number;
  duplicates: number;
}

export class PostgresSender implements Sender {
  readonly stats: PostgresSenderStats = { written: 0, duplicates: 0 };
  private readonly config: PostgresConfig;
  private readonly logger: Logger;
  private readonly deltas = new DeltaTracker(nowUnixNano());
  /** Encoded once per batch object, so every retry writes the same rows under the same id. */
  private readonly encoded = new WeakMap<MetricsBatch, EncodedBatch>();
  private readonly seriesCache = new Map<string, SeriesIdentity>();
  private readonly partMs: number;
  private compactTimer: NodeJS.Timeout | undefined;
  private compacting: Promise<number> | undefined;
  /** True while merges keep failing (database down): the first failure of an outage is a warning, the rest debug. */
  private mergeFailing = false;
  private pool: pg.Pool | undefined;
  private writer: Writer | undefined;
  private partitions: Partitions | undefined;
  private migrated: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private maintaining: Promise<void> | undefined;
  private stopped = false;

  constructor(config: PostgresConfig, logger: Logger) {
    this.config = config;
    this.logger = logger;
    this.partMs = config.rollup_intervals.reduce(gcd);
  }

  async start(_host?: Host): Promise<void> {
    const c = this.config;
    const pool = new pg.Pool({
      ...connectionOptions(c),
      max: c.pool.max_connections > 0 ? c.pool.max_connections : c.sending_queue.num_consumers + 1,
      connectionTimeoutMillis: c.pool.connect_timeout,
      idleTimeoutMillis: c.pool.idle_timeout,
      application_name: 'tributary',
    });
    // Idle connections die when the server restarts; that is expected, not fatal.
    pool.on('error', (err) => this.logger.debug({ err: err.message }, 'postgres idle connection closed'));
    this.pool = pool;
    this.writer = new Writer(pool, c.schema);
    this.partitions = new Partitions(pool, c.schema);
    // Not awaited: a database that is down at start delays data (it waits in the queue), it does not fail the daemon.
    this.maintaining = this.maintain();
    this.timer = setInterval(() => {
      if (!this.maintaining) this.maintaining = this.maintain();
    }, c.maintenance_interval);
    this.timer.unref();
    this.compactTimer = setInterval(() => void this.flushRollups().catch(() => undefined), c.rollup_flush_interval);
    this.compactTimer.unref();
  }

  /**
   * Merge every pending rollup part into metric_rollups; resolves with the
   * number merged. One run at a time; a failure is logged and retried on the next tick.
   */
  flushRollups(): Promise<number> {
    if (this.compacting) return this.compacting.then(() => this.flushRollups());
    const run = (async () => {
      let total = 0;
      try {
        await this.ensureSchema();
        for (let i = 0; i < 1000; i++) {
          const n = await this.writer!.compact(this.config.rollup_intervals, COMPACT_LIMIT);
          total += n;
          if (n < COMPACT_LIMIT || this.stopped) break;
        }
        if (this.mergeFailing) this.logger.info({ merged: total }, 'postgres rollup merge recovered');
        this.mergeFailing = false;
      } catch (err) {
        // While the database is down this fails on every tick: warn once per outage, then stay quiet until a merge succeeds.
        const message = errorMessage(err);
        if (!this.mergeFailing) this.logger.warn({ err: message }, 'postgres rollup merge failed; will retry every rollup_flush_interval');
        else this.logger.debug({ err: message }, 'postgres rollup merge failed again');
        this.mergeFailing = true;
        throw err;
      } finally {
        this.compacting = undefined;
      }
      return total;
    })();
    this.compacting = run;
    return run;
  }

  async send(batch: MetricsBatch, signal: AbortSignal): Promise<SendOutcome | void> {
    if (!this.pool || !this.writer || !this.partitions) throw new TributaryError('TRIB_SHUTTING_DOWN', 'postgres exporter not started');
    let enc = this.encoded.get(batch);
    if (enc === undefined) {
      enc = encodeBatch(
        batch,
        {
          tenantAttribute: this.config.tenant_attribute,
          partMs: this.partMs,
          seriesCache: this.seriesCache,
          retentionCutoffMs: Date.now() - this.config.retention,
        },
        this.deltas,
      );
      this.encoded.set(batch, enc);
    }
    if (enc.rows > 0 || enc.parts > 0) {
      let result: WriteResult;
      try {
        await this.ensureSchema();
        await this.partitions.ensure(enc.days);
        result = await this.writer.write(enc, signal);
      } catch (err) {
        if (needsSchemaCheck(err)) {
          this.migrated = undefined;
          this.partitions.invalidate();
        }
        throw classifyPgError(signal.aborted && !(err instanceof TributaryError) ? signal.reason ?? err : err);
      }
      if (result === 'duplicate') this.stats.duplicates++;
      else this.stats.written++;
    }
    let rejected = 0;
    let reason: string | undefined;
    for (const [r, n] of enc.rejected) {
      rejected += n;
      reason ??= r;
    }
    if (rejected > 0) return { rejectedPoints: rejected, reason, message: `${rejected} points outside retention or with an invalid time` };
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.compactTimer) clearInterval(this.compactTimer);
    await this.maintaining?.catch(() => undefined);
    // The queue is drained by now: merge what it wrote (anything left merges at the next start).
    await this.compacting?.catch(() => undefined);
    for (let i = 0; this.writer && i < SHUTDOWN_COMPACT_ROUNDS; i++) {
      const n = await this.writer.compact(this.config.rollup_intervals, COMPACT_LIMIT).catch(() => 0);
      if (n < COMPACT_LIMIT) break;
    }
    await this.pool?.end().catch(() => undefined);
  }

  /** Create or migrate the schema once per connection to a (possibly new) database. */
  ensureSchema(): Promise<void> {
    if (!this.migrated) {
      const p = (async () => {
        const client = await acquire(this.pool!);
        let applied: number[];
        try {
          applied = await migrate(client, this.config.schema);
        } catch (err) {
          release(client, err instanceof Error ? err : new Error(String(err)));
          throw err;
        }
        release(client);
        if (applied.length > 0) this.logger.info({ schema: this.config.schema, applied }, 'postgres schema migrated');
      })();
      this.migrated = p;
      p.catch(() => {
        if (this.migrated === p) this.migrated = undefined;
      });
    }
    return this.migrated;
  }

  /** Partitions ahead, retention, and forgetting old batch ids and idle series. Never throws. */
  async maintain(now = Date.now()): Promise<void> {
    try {
      if (this.stopped) return;
      await this.ensureSchema();
      const c = this.config;
      const today = Math.floor(now / DAY_MS);
      const ahead: number[] = [];
      for (let d = 0; d <= c.partitions_ahead; d++) ahead.push(today + d);
      await this.partitions!.ensure(ahead);
      const dropped = await this.partitions!.dropBefore(now - c.retention);
      if (dropped.length > 0) this.logger.info({ partitions: dropped.length }, 'postgres partitions past retention dropped');
      const rollupCutoff = new Date(now - (c.rollup_retention ?? c.retention)).toISOString();
      await this.pool!.query(`DELETE FROM ${c.schema}.metric_rollups WHERE period_start + period <= $1`, [rollupCutoff]);
      await this.pool!.query(`DELETE FROM ${c.schema}.export_batches WHERE committed_at < $1`, [new Date(now - c.dedupe_window).toISOString()]);
      this.deltas.sweep(now - Math.max(DAY_MS, c.maintenance_interval * 3));
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'postgres maintenance failed; will retry');
    } finally {
      this.maintaining = undefined;
    }
  }
}

/**
 * Parts claimed per merge transaction. The merge's cost is mostly per series
 * (lock, read, merge, write back its rollup rows), the claim's per part: a
 * claim that holds many batches of each series amortises the per-series work.
 * The database adds parts up, so the daemon holds one row per series and
 * period, at most this many.
 */
const COMPACT_LIMIT = 100_000;
/** At shutdown, merge at most this many claims; the rest merges at the next start. */
const SHUTDOWN_COMPACT_ROUNDS = 2;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Pool connection settings from the config: a DSN, or fields; TLS from the `tls` block. */
export function connectionOptions(c: PostgresConfig): pg.PoolConfig {
  const out: pg.PoolConfig = {};
  if (c.dsn !== undefined) out.connectionString = c.dsn;
  if (c.host !== undefined) out.host = c.host;
  if (c.port !== undefined) out.port = c.port;
  if (c.database !== undefined) out.database = c.database;
  if (c.user !== undefined) out.user = c.user;
  if (c.password !== undefined) out.password = c.password;
  const t = c.tls;
  if (t !== undefined && !t.insecure) {
    const ssl: ConnectionOptions = { rejectUnauthorized: !t.insecure_skip_verify };
    // Files are read here, at start, so a missing certificate fails the start with its path.
    if (t.ca_file) ssl.ca = readFileSync(t.ca_file, 'utf8');
    if (t.cert_file) ssl.cert = readFileSync(t.cert_file, 'utf8');
    if (t.key_file) ssl.key = readFileSync(t.key_file, 'utf8');
    if (t.server_name_override) ssl.servername = t.server_name_override;
    if (t.min_version) ssl.minVersion = tlsVersion(t.min_version);
    out.ssl = ssl;
  }
  return out;
}

function tlsVersion(v: string): 'TLSv1.2' | 'TLSv1.3' {
  return v === '1.3' || v === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1.2';
}
