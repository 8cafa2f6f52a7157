/**
 * Faults against a real PostgreSQL: the database stops mid-stream and comes
 * back (every point stored exactly once afterwards), and a commit whose
 * acknowledgement is lost (the retry is recognised and not stored twice).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresHandle } from '../../../test/harness/postgres.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { postgresConfigSchema } from './config.ts';
import { postgresExporterFactory } from './factory.ts';
import { PostgresSender } from './sender.ts';
import { batchOf, deltaSum } from './testdata.ts';

let db: PostgresHandle;
let client: pg.Client | undefined;

beforeAll(async () => {
  db = await startPostgres();
});

afterAll(async () => {
  await client?.end().catch(() => undefined);
  await db?.stop();
});

async function query(sql: string): Promise<any[]> {
  if (!client) {
    client = new pg.Client({ connectionString: db.url });
    client.on('error', () => undefined);
    await client.connect();
  }
  return (await client.query(sql)).rows;
}

async function until(fn: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('postgres exporter faults', () => {
  it('keeps data queued while the database is down and stores every point exactly once after it restarts', async (ctx) => {
    if (!db.canRestart) ctx.skip();
    const settings = testSettings('exporter', 'postgres/fault');
    const config = postgresExporterFactory.configSchema.parse({
      dsn: db.url,
      schema: 'trib_fault',
      timeout: '2s',
      retry_on_failure: { initial_interval: '50ms', max_interval: '250ms', max_elapsed_time: '2m' },
      sending_queue: { queue_size: 100_000, num_consumers: 4 },
      circuit_breaker: { failure_threshold: 3, open_duration: '250ms' },
      pool: { connect_timeout: '1s' },
    });
    const exporter = postgresExporterFactory.create(settings, config);
    await exporter.start(testHost());
    const t0 = Date.now() - 60_000;
    const BATCHES = 40;
    const PER_BATCH = 50;
    let expectedSum = 0;
    for (let b = 0; b < BATCHES; b++) {
      const points = Array.from({ length: PER_BATCH }, (_, i) => {
        const seq = b * PER_BATCH + i;
        expectedSum += seq;
        return { attrs: { seq }, value: seq, timeMs: t0 + seq };
      });
      await exporter.consume(batchOf({ 'tenant.id': 'acme' }, [deltaSum('fault.points', points)]));
      if (b === 10) await db.halt();
      if (b === 30) await db.start();
      await new Promise((r) => setTimeout(r, 20));
    }
    const total = BATCHES * PER_BATCH;
    const sent = () => settings.telemetry.exporterSent.sum({ exporter: 'postgres/fault' });
    const failed = () => settings.telemetry.exporterFailed.sum({ exporter: 'postgres/fault' });
    await until(() => sent() + failed() >= total, 90_000);
    expect(failed()).toBe(0);
    expect(sent()).toBe(total);
    const [row] = await query(
      `SELECT count(*)::int AS n, count(DISTINCT (attributes->>'seq'))::int AS distinct_seq, sum(value) AS s FROM trib_fault.metric_points WHERE metric = 'fault.points'`,
    );
    expect(row).toEqual({ n: total, distinct_seq: total, s: expectedSum });
    await exporter.shutdown(); // merges the pending rollup parts
    const [roll] = await query(`SELECT sum(count)::int AS n, sum(sum) AS s FROM trib_fault.metric_rollups WHERE metric = 'fault.points' AND period = interval '1 hour'`);
    expect(roll).toEqual({ n: total, s: expectedSum });
  });

  it('does not store a batch twice when the commit acknowledgement is lost', async () => {
    const proxy = await lossyProxy(new URL(db.url));
    const url = new URL(db.url);
    url.port = String(proxy.port);
    const sender = new PostgresSender(postgresConfigSchema.parse({ dsn: url.toString(), schema: 'trib_ack' }), silentLogger());
    await sender.start();
    const t = Date.now() - 30_000;
    const signal = new AbortController().signal;
    // Warm up: schema and today's partition exist, so the next COMMIT seen is the data transaction's.
    await sender.send(batchOf({}, [deltaSum('ack.points', [{ attrs: { n: 0 }, value: 1, timeMs: t }])]), signal);
    const batch = batchOf({}, [deltaSum('ack.points', [1, 2, 3].map((n) => ({ attrs: { n }, value: 10, timeMs: t + n })))]);
    proxy.dropNextCommitAck();
    await expect(sender.send(batch, signal)).rejects.toMatchObject({ code: 'TRIB_RETRYABLE' });
    // The commit happened although the client never heard of it.
    expect((await query(`SELECT count(*)::int AS n FROM trib_ack.metric_points`))[0].n).toBe(4);
    await sender.send(batch, signal); // the helper's retry
    expect(sender.stats.duplicates).toBe(1);
    expect((await query(`SELECT count(*)::int AS n, sum(value) AS s FROM trib_ack.metric_points`))[0]).toEqual({ n: 4, s: 31 });
    await sender.flushRollups();
    expect((await query(`SELECT sum(sum) AS s FROM trib_ack.metric_rollups WHERE period = interval '1 minute'`))[0].s).toBe(31);
    await sender.shutdown();
    proxy.close();
  });
});

/** A TCP proxy to Postgres that can forward one COMMIT and then cut the connection before its reply reaches the client. */
async function lossyProxy(target: URL): Promise<{ port: number; dropNextCommitAck(): void; close(): void }> {
  let armed = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(Number(target.port), target.hostname);
    sockets.add(down).add(up);
    let cutOnReply = false;
    const kill = () => {
      down.destroy();
      up.destroy();
    };
    down.on('data', (d) => {
      if (armed && d.includes('COMMIT')) {
        armed = false;
        cutOnReply = true;
      }
      up.write(d);
    });
    up.on('data', (d) => {
      if (cutOnReply) return kill();
      down.write(d);
    });
    down.on('error', kill).on('close', kill);
    up.on('error', kill).on('close', kill);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    dropNextCommitAck: () => (armed = true),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
