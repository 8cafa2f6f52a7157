/**
 * The admin endpoint (CONTRACT §4): `/healthz`, `/readyz`, `/metrics`
 * (self-metrics plus process metrics, Prometheus text) and `/config`
 * (effective config, secrets redacted). It is also where otelcol's
 * `health_check` extension is served; it never opens a second listener.
 */
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { SelfMetrics } from '../telemetry/self-metrics.ts';
import type { Logger } from '../telemetry/logger.ts';
import { parseHostPort } from '../config/types.ts';

export interface AdminOptions {
  endpoint: string;
  logger: Logger;
  registry: SelfMetrics;
  /** 'ready' answers 200 on /readyz; anything else 503 with the state as body. */
  readiness(): { ready: boolean; state: string };
  /** Effective config, already redacted, as YAML text. */
  configText(): string;
  /** Extra path for readiness as otelcol's health_check writes it (`path`, default `/`). */
  healthCheckPath?: string;
}

export class AdminServer {
  private readonly opts: AdminOptions;
  private server?: http.Server;
  private static readonly LOOP_RESOLUTION_MS = 10;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: AdminServer.LOOP_RESOLUTION_MS });
  private readonly startTime = Date.now() / 1000;
  private disposers: Array<() => void> = [];

  constructor(opts: AdminOptions) {
    this.opts = opts;
    this.registerProcessMetrics();
  }

  private registerProcessMetrics(): void {
    const r = this.opts.registry;
    this.loopDelay.enable();
    this.disposers.push(r.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.').observe({}, () => process.memoryUsage.rss()));
    this.disposers.push(
      r.gauge('nodejs_eventloop_lag_seconds', 'Mean event loop delay over the last scrape interval, in seconds.').observe({}, () => {
        const mean = this.loopDelay.mean;
        this.loopDelay.reset();
        // The sampler's own timer interval is part of each sample; what is beyond it is lag.
        return Number.isNaN(mean) ? 0 : Math.max(0, mean / 1e9 - AdminServer.LOOP_RESOLUTION_MS / 1e3);
      }),
    );
    this.disposers.push(r.gauge('nodejs_heap_size_used_bytes', 'V8 heap in use, in bytes.').observe({}, () => process.memoryUsage().heapUsed));
    this.disposers.push(
      r.counter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.').observe({}, () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
      }),
    );
    this.disposers.push(r.gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.').observe({}, () => this.startTime));
  }

  get address(): string | undefined {
    const a = this.server?.address();
    if (!a || typeof a === 'string') return a ?? undefined;
    return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  async start(): Promise<void> {
    const hp = parseHostPort(this.opts.endpoint);
    if (!hp) throw new Error(`admin: invalid endpoint ${this.opts.endpoint}`);
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new Error(`admin: listen ${this.opts.endpoint}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`));
      });
      server.listen(hp.port, hp.host || undefined, () => resolve());
    });
    server.on('error', (err) => this.opts.logger.error({ err: err.message }, 'admin server error'));
    this.server = server;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (path) {
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz':
        return this.readiness(res);
      case '/metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(this.opts.registry.render());
        return;
      case '/config':
        res.writeHead(200, { 'content-type': 'application/yaml; charset=utf-8' }).end(this.opts.configText());
        return;
      default:
        if (this.opts.healthCheckPath && path === this.opts.healthCheckPath) return this.readiness(res);
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  }

  private readiness(res: http.ServerResponse): void {
    const r = this.opts.readiness();
    res.writeHead(r.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${r.state}\n`);
  }

  async close(): Promise<void> {
    for (const d of this.disposers) d();
    this.disposers = [];
    this.loopDelay.disable();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
