/** HTTP GETs for tests, and scrapers polling an endpoint (a Prometheus exposition) while something changes behind it. */
import http from 'node:http';

/** One GET; status 0 and an empty body when the connection fails. */
export function httpGet(url: string, agent?: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    http
      .get(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', () => resolve({ status: 0, body: '' }));
  });
}

export interface Scrape<T> {
  status: number;
  /** What `read` made of the body. */
  value: T;
}

export interface ScraperOptions {
  /** One loop per entry: over one keep-alive connection, or a fresh connection per scrape. Default both. */
  connections?: Array<'keep-alive' | 'fresh'>;
  /** Pause between a loop's scrapes; 0 yields to the event loop only. */
  pauseMs?: number;
  /** Bound on the scrapes made. */
  max?: number;
}

/**
 * Scrapes `url` in loops until stopped, keeping the status and `read(body)`
 * of each scrape, all together and by loop (within a loop scrapes are in
 * order, so a counter reset shows there).
 */
export function scraper<T>(url: string, read: (body: string) => T, opts: ScraperOptions = {}) {
  const { connections = ['keep-alive', 'fresh'], pauseMs = 0, max = 50_000 } = opts;
  const results: Array<Scrape<T>> = [];
  const byLoop: Array<Array<Scrape<T>>> = connections.map(() => []);
  const agents = connections.map((c) => (c === 'keep-alive' ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: false })));
  let running = true;
  const loops = agents.map(async (agent, i) => {
    while (running && results.length < max) {
      const { status, body } = await httpGet(url, agent);
      const r = { status, value: read(body) };
      results.push(r);
      byLoop[i].push(r);
      await new Promise((resolve) => (pauseMs > 0 ? setTimeout(resolve, pauseMs) : setImmediate(resolve)));
    }
  });
  return {
    results,
    byLoop,
    async stop() {
      running = false;
      await Promise.all(loops);
      for (const a of agents) a.destroy();
      return results;
    },
  };
}
