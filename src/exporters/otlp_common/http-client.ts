/**
 * A small HTTP(S) POST client shared by the push exporters that speak HTTP
 * (`otlp_http`, `prometheusremotewrite`): keep-alive connections, TLS from
 * the config's `tls` block, an abort signal per request, a bounded response
 * body, and network failures turned into retryable errors.
 */
import http from 'node:http';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import type { TlsSettings } from '../../config/types.ts';
import { retryableError } from '../../errors.ts';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Responses are status plus a short message; anything longer is cut (a misbehaving peer must not fill memory). */
const MAX_RESPONSE_BYTES = 1 << 20;

export class HttpClient {
  private readonly tls: TlsSettings | undefined;
  private agent: http.Agent | undefined;
  private httpAgent: http.Agent | undefined;

  constructor(tls?: TlsSettings) {
    this.tls = tls;
  }

  /** Read certificate files; fails start with the file named. */
  async start(): Promise<void> {
    const t = this.tls;
    const read = async (f: string | undefined, what: string) => {
      if (!f) return undefined;
      try {
        return await readFile(f);
      } catch (err) {
        throw new Error(`tls.${what}: cannot read ${f}: ${(err as Error).message}`);
      }
    };
    const [ca, cert, key] = await Promise.all([read(t?.ca_file, 'ca_file'), read(t?.cert_file, 'cert_file'), read(t?.key_file, 'key_file')]);
    this.agent = new https.Agent({
      keepAlive: true,
      ca,
      cert,
      key,
      rejectUnauthorized: !t?.insecure_skip_verify,
      servername: t?.server_name_override,
      minVersion: (t?.min_version ? `TLSv${t.min_version}` : undefined) as https.AgentOptions['minVersion'],
    });
    this.httpAgent = new http.Agent({ keepAlive: true });
  }

  post(url: URL, body: Uint8Array, headers: Record<string, string>, signal: AbortSignal): Promise<HttpResponse> {
    const isHttps = url.protocol === 'https:';
    const mod = isHttps ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method: 'POST',
          agent: isHttps ? this.agent : this.httpAgent,
          headers: { ...headers, 'Content-Length': String(body.length) },
          signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if (size < MAX_RESPONSE_BYTES) chunks.push(c);
            size += c.length;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', (err) => reject(networkError(err)));
        },
      );
      req.on('error', (err) => reject(signal.aborted ? signal.reason : networkError(err)));
      req.end(body);
    });
  }

  close(): void {
    this.agent?.destroy();
    this.httpAgent?.destroy();
  }
}

function networkError(err: Error & { code?: string }): Error {
  return retryableError(`${err.code ?? 'network error'}: ${err.message}`, { cause: err, reason: 'network' });
}

/** Header values from the config plus the protocol's own; protocol headers win. */
export function mergeHeaders(configured: Record<string, string> | undefined, own: Record<string, string>): Record<string, string> {
  return { ...configured, ...own };
}
