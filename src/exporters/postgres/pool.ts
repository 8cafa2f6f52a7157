/**
 * Checking a client out of the pool safely. A checked-out pg client whose
 * connection drops (server restart, proxy reset) emits 'error'; with no
 * listener that would crash the daemon, so one is attached for as long as
 * the client is out. The failing query rejects anyway, which is where the
 * error is handled.
 */
import type { Pool, PoolClient } from 'pg';

const ignore = () => undefined;

export async function acquire(pool: Pool): Promise<PoolClient> {
  const client = await pool.connect();
  client.on('error', ignore);
  return client;
}

/** Return a client; pass the error that broke it so that the pool discards it. */
export function release(client: PoolClient, err?: Error): void {
  client.removeListener('error', ignore);
  // A client that errored after release is the pool's idle handler's business; a broken one is destroyed now.
  client.release(err);
}
