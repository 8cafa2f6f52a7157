/**
 * A local stand-in for the Datadog metrics intake, strict where the real one
 * is: it checks the API key, the body size before and after decompression
 * (512,000 / 5,242,880 bytes), and the v2 series shape (names, types,
 * second-resolution timestamps within the accepted window, finite values,
 * intervals, tags), and decodes sketch payloads. Tests can queue answers
 * (400, 403, 429, 5xx …) that are returned before the body is accepted.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

export const DD_MAX_COMPRESSED = 512_000;
export const DD_MAX_RAW = 5_242_880;

export interface ReceivedSeries {
  metric: string;
  type: number;
  points: Array<{ timestamp: number; value: number }>;
  resources?: Array<{ name: string; type: string }>;
  tags?: string[];
  interval?: number;
}

export interface ReceivedSketch {
  metric: string;
  host: string;
  tags: string[];
  ts: number;
  cnt: number;
  min: number;
  max: number;
  avg: number;
  sum: number;
  k: number[];
  n: number[];
}

export interface ReceivedRequest {
  path: string;
  encoding: string;
  wireBytes: number;
  rawBytes: number;
  status: number;
}

export interface CuedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface FakeDatadog {
  readonly url: string;
  readonly series: ReceivedSeries[];
  readonly sketches: ReceivedSketch[];
  readonly requests: ReceivedRequest[];
  /** Why bodies were refused as malformed (should stay empty when the exporter is correct). */
  readonly violations: string[];
  /** Answer the next `times` requests with this instead of accepting them. */
  cue(answer: CuedAnswer, times?: number): void;
  /** Find series by metric name (and optionally a tag). */
  find(metric: string, tag?: string): ReceivedSeries[];
  close(): Promise<void>;
}

export interface FakeDatadogOptions {
  apiKey?: string;
  /** Clock used for the timestamp window check (seconds). */
  nowSeconds?: () => number;
  /** Keep what was received (default true; benchmarks turn it off to keep memory flat). */
  store?: boolean;
}

export async function startFakeDatadog(opts: FakeDatadogOptions = {}): Promise<FakeDatadog> {
  const apiKey = opts.apiKey ?? 'test-api-key';
  const now = opts.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  const series: ReceivedSeries[] = [];
  const sketches: ReceivedSketch[] = [];
  const requests: ReceivedRequest[] = [];
  const violations: string[] = [];
  const cues: CuedAnswer[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let wire = 0;
    req.on('data', (c: Buffer) => {
      wire += c.length;
      if (wire <= DD_MAX_COMPRESSED * 4) chunks.push(c);
    });
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      const encoding = String(req.headers['content-encoding'] ?? 'identity');
      const record: ReceivedRequest = { path, encoding, wireBytes: wire, rawBytes: 0, status: 0 };
      if (opts.store !== false) requests.push(record);
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        record.status = status;
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      };
      if (req.method !== 'POST' || (path !== '/api/v2/series' && path !== '/api/beta/sketches')) return answer(404, { errors: ['Not found'] });
      if (req.headers['dd-api-key'] !== apiKey) return answer(403, { errors: ['Forbidden'] });
      const cued = cues.shift();
      if (cued) return answer(cued.status, cued.body ?? { errors: [`cued ${cued.status}`] }, cued.headers);
      if (wire > DD_MAX_COMPRESSED) return answer(413, { errors: [`Payload too large: ${wire} bytes`] });
      let raw: Buffer;
      try {
        raw = decompress(Buffer.concat(chunks), encoding);
      } catch (err) {
        violations.push(`cannot decompress ${encoding}: ${err}`);
        return answer(400, { errors: ['Malformed payload'] });
      }
      record.rawBytes = raw.length;
      if (raw.length > DD_MAX_RAW) return answer(413, { errors: [`Decompressed payload too large: ${raw.length} bytes`] });
      const problems: string[] = [];
      if (path === '/api/v2/series') {
        if (!String(req.headers['content-type']).startsWith('application/json')) problems.push(`content-type ${req.headers['content-type']}`);
        const parsed = parseSeries(raw, now(), problems);
        if (problems.length === 0 && opts.store !== false) series.push(...parsed);
      } else {
        const parsed = parseSketches(raw, problems);
        if (problems.length === 0 && opts.store !== false) sketches.push(...parsed);
      }
      if (problems.length > 0) {
        violations.push(...problems);
        return answer(400, { errors: problems.slice(0, 5) });
      }
      answer(202, { errors: [] });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    series,
    sketches,
    requests,
    violations,
    cue(answer, times = 1) {
      for (let i = 0; i < times; i++) cues.push(answer);
    },
    find(metric, tag) {
      return series.filter((s) => s.metric === metric && (tag === undefined || (s.tags ?? []).includes(tag)));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function decompress(body: Buffer, encoding: string): Buffer {
  switch (encoding) {
    case 'gzip':
      return zlib.gunzipSync(body, { maxOutputLength: DD_MAX_RAW + 1 });
    case 'deflate':
      return zlib.inflateSync(body, { maxOutputLength: DD_MAX_RAW + 1 });
    case 'zstd':
      return zlib.zstdDecompressSync(body, { maxOutputLength: DD_MAX_RAW + 1 });
    case 'identity':
      return body;
    default:
      throw new Error(`unsupported Content-Encoding ${encoding}`);
  }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function parseSeries(raw: Buffer, nowS: number, problems: string[]): ReceivedSeries[] {
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch {
    problems.push('body is not JSON');
    return [];
  }
  const list = (doc as { series?: unknown }).series;
  if (!Array.isArray(list) || list.length === 0) {
    problems.push('series must be a non-empty array');
    return [];
  }
  for (const [i, s] of list.entries()) {
    const where = `series[${i}]`;
    if (typeof s?.metric !== 'string' || s.metric === '' || s.metric.length > 200) problems.push(`${where}.metric invalid`);
    if (!isInt(s?.type) || s.type < 0 || s.type > 3) problems.push(`${where}.type must be 0..3`);
    if (!Array.isArray(s?.points) || s.points.length === 0) problems.push(`${where}.points must be non-empty`);
    else
      for (const p of s.points) {
        if (!isInt(p?.timestamp)) problems.push(`${where}.points.timestamp must be an integer number of seconds`);
        else if (p.timestamp > 1e11) problems.push(`${where}.points.timestamp looks like milliseconds`);
        else if (p.timestamp < nowS - 3600 || p.timestamp > nowS + 600) problems.push(`${where}.points.timestamp outside the accepted window`);
        if (typeof p?.value !== 'number' || !Number.isFinite(p.value)) problems.push(`${where}.points.value must be a finite number`);
      }
    if (s?.interval !== undefined && (!isInt(s.interval) || s.interval <= 0)) problems.push(`${where}.interval must be a positive integer`);
    if (s?.tags !== undefined && (!Array.isArray(s.tags) || s.tags.some((t: unknown) => typeof t !== 'string'))) problems.push(`${where}.tags must be strings`);
    if (s?.resources !== undefined && (!Array.isArray(s.resources) || s.resources.some((r: any) => typeof r?.name !== 'string' || typeof r?.type !== 'string')))
      problems.push(`${where}.resources must be {name,type} objects`);
  }
  return list as ReceivedSeries[];
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));

function parseSketches(raw: Buffer, problems: string[]): ReceivedSketch[] {
  const out: ReceivedSketch[] = [];
  try {
    const r = protobuf.Reader.create(raw);
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag >>> 3 !== 1) {
        r.skipType(tag & 7);
        continue;
      }
      const end = r.uint32() + r.pos;
      const sk: ReceivedSketch = { metric: '', host: '', tags: [], ts: 0, cnt: 0, min: 0, max: 0, avg: 0, sum: 0, k: [], n: [] };
      let dogsketches = 0;
      while (r.pos < end) {
        const t = r.uint32();
        switch (t >>> 3) {
          case 1:
            sk.metric = r.string();
            break;
          case 2:
            sk.host = r.string();
            break;
          case 4:
            sk.tags.push(r.string());
            break;
          case 7: {
            dogsketches++;
            const dend = r.uint32() + r.pos;
            while (r.pos < dend) {
              const dt = r.uint32();
              switch (dt >>> 3) {
                case 1: sk.ts = num(r.int64()); break;
                case 2: sk.cnt = num(r.int64()); break;
                case 3: sk.min = r.double(); break;
                case 4: sk.max = r.double(); break;
                case 5: sk.avg = r.double(); break;
                case 6: sk.sum = r.double(); break;
                case 7: {
                  const kend = r.uint32() + r.pos;
                  while (r.pos < kend) sk.k.push(r.sint32());
                  break;
                }
                case 8: {
                  const nend = r.uint32() + r.pos;
                  while (r.pos < nend) sk.n.push(r.uint32());
                  break;
                }
                default: r.skipType(dt & 7);
              }
            }
            break;
          }
          default:
            r.skipType(t & 7);
        }
      }
      if (sk.metric === '') problems.push('sketch without metric');
      if (dogsketches !== 1) problems.push(`sketch ${sk.metric} has ${dogsketches} dogsketches`);
      if (sk.k.length !== sk.n.length) problems.push(`sketch ${sk.metric}: k and n differ in length`);
      for (let i = 1; i < sk.k.length; i++) if (sk.k[i] <= sk.k[i - 1]) problems.push(`sketch ${sk.metric}: keys not strictly ascending`);
      const total = sk.n.reduce((a, b) => a + b, 0);
      if (total !== sk.cnt) problems.push(`sketch ${sk.metric}: bin counts sum to ${total}, cnt is ${sk.cnt}`);
      if (!(sk.min <= sk.max)) problems.push(`sketch ${sk.metric}: min > max`);
      out.push(sk);
    }
  } catch (err) {
    problems.push(`malformed sketch payload: ${err}`);
  }
  return out;
}
