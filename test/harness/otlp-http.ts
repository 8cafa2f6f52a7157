/**
 * OTLP/HTTP peers for tests: delta counter requests, a client posting them
 * (alone or as steady load), and a sink standing in for the backend an
 * exporter sends to, counting what arrives.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsBatch, NumberPoint } from '../../src/model/metrics.ts';
import { decodeExportRequest } from '../../src/otlp/decode.ts';
import { encodeExportRequest } from '../../src/otlp/encode.ts';

const T0 = 1_800_000_000_000_000_000;

/** Request `i`: `points` delta points of value 1 of monotonic sum `metric` (series `k` = 0, 1, …), at a time later than request `i - 1`'s. */
export function deltaCounterRequest(i: number, opts: { metric: string; service: string; points?: number }): Buffer {
  const t = T0 + i * 1000;
  const batch: MetricsBatch = {
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': opts.service } },
        scopeMetrics: [
          {
            scope: { name: 'e2e', version: '1', attributes: {} },
            metrics: [
              {
                type: 'sum',
                name: opts.metric,
                description: '',
                unit: '',
                temporality: 'delta',
                monotonic: true,
                points: Array.from({ length: opts.points ?? 1 }, (_, k) => ({ attributes: { k: String(k) }, startTimeUnixNano: t, timeUnixNano: t + 1, value: 1, isInt: true })),
              },
            ],
          },
        ],
      },
    ],
  };
  return Buffer.from(encodeExportRequest(batch));
}

/** POST an OTLP protobuf body to `/v1/metrics`; resolves with the status, 0 when the connection is refused or reset (not accepted). */
export function postOtlp(port: number, body: Buffer, agent?: http.Agent): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/metrics', method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

export interface OtlpLoadOptions {
  /** Clients posting side by side (over one keep-alive agent). */
  clients?: number;
  /** Points in each request, for `accepted()`. */
  pointsPerRequest?: number;
  /** Pause between a client's requests; 0 posts back to back. */
  pauseMs?: number;
  /** Bound on the requests made. */
  maxRequests?: number;
}

/** Clients posting `requestOf(0)`, `requestOf(1)`, … until stopped; keeps every status and counts the points the receiver accepted (200). */
export function otlpLoad(port: number, requestOf: (n: number) => Buffer, opts: OtlpLoadOptions = {}) {
  const { clients = 2, pointsPerRequest = 1, pauseMs = 1, maxRequests = 200_000 } = opts;
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const statuses: number[] = [];
  let running = true;
  let n = 0;
  const loops = Array.from({ length: clients }, async () => {
    while (running && statuses.length < maxRequests) {
      statuses.push(await postOtlp(port, requestOf(n++), agent));
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    statuses,
    accepted: () => statuses.filter((s) => s === 200).length * pointsPerRequest,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

export interface OtlpSinkOptions {
  /** Listen on this port (a backend coming up late where the exporter already sends); default an ephemeral one. */
  port?: number;
  /** Also sum point values by the value of this request header (`byHeader`), e.g. to tell which exporter config sent them. */
  tagHeader?: string;
  /** Refuse (400, nothing counted) a request whose batch this holds for. */
  refuse?: (batch: MetricsBatch) => boolean;
}

/** An OTLP/HTTP backend on 127.0.0.1 summing the values of the number points it takes (answered 200). */
export class OtlpSink {
  /** Point values summed by metric name. */
  readonly totals = new Map<string, number>();
  /** Point values summed by the `tagHeader` value they came with. */
  readonly byHeader = new Map<string, number>();
  /** Requests and points taken. */
  requests = 0;
  points = 0;
  /** While false, every request is answered 503 (the backend is down). */
  up = true;
  /** Answer this long after the request has arrived. */
  delayMs = 0;
  /** Never answer. */
  hang = false;
  port: number;
  private readonly opts: OtlpSinkOptions;
  private server?: http.Server;

  constructor(opts: OtlpSinkOptions = {}) {
    this.opts = opts;
    this.port = opts.port ?? 0;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.hang) return;
        if (this.delayMs > 0) setTimeout(() => this.answer(req, res, chunks), this.delayMs);
        else this.answer(req, res, chunks);
      });
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', () => r()));
    this.port = (server.address() as AddressInfo).port;
  }

  total(name: string): number {
    return this.totals.get(name) ?? 0;
  }

  /** Close, ending hanging and keep-alive connections. */
  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((r) => server.close(() => r()));
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, chunks: Buffer[]): void {
    if (!this.up) return void res.writeHead(503).end();
    const batch = decodeExportRequest(Buffer.concat(chunks));
    if (this.opts.refuse?.(batch)) return void res.writeHead(400).end();
    const tag = this.opts.tagHeader === undefined ? undefined : String(req.headers[this.opts.tagHeader]);
    this.requests++;
    for (const rm of batch.resourceMetrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) {
          this.points += m.points.length;
          for (const p of m.points as NumberPoint[]) {
            this.totals.set(m.name, (this.totals.get(m.name) ?? 0) + p.value);
            if (tag !== undefined) this.byHeader.set(tag, (this.byHeader.get(tag) ?? 0) + p.value);
          }
        }
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  }
}
