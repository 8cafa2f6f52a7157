/**
 * A local HTTP backend for exporter tests, whose behaviour a test scripts:
 * answer with a status (and headers), hang, or be down (closed port). It
 * records every request it accepted so tests assert from the backend's side.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type Reply = { status: number; headers?: Record<string, string>; body?: string | Uint8Array } | 'hang';

export class TestBackend {
  readonly requests: Recorded[] = [];
  /** Replies for the next requests, in order; then `fallback`. */
  script: Reply[] = [];
  fallback: Reply = { status: 200 };
  /** Requests answered 2xx (the ones the backend "stored"). */
  readonly accepted: Recorded[] = [];
  private server: http.Server | undefined;
  private hanging: http.ServerResponse[] = [];
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rec = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
        this.requests.push(rec);
        const reply = this.script.length > 0 ? this.script.shift()! : this.fallback;
        if (reply === 'hang') {
          this.hanging.push(res);
          return;
        }
        if (reply.status >= 200 && reply.status < 300) this.accepted.push(rec);
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body ?? '');
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Go down (the port then refuses connections); `start(port)` brings it back on the same port. */
  async stop(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.hanging = [];
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
