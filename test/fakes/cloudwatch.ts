/**
 * A local stand-in for CloudWatch's PutMetricData, speaking the protocol the
 * current `@aws-sdk/client-cloudwatch` uses: AWS JSON 1.0
 * (`X-Amz-Target: GraniteServiceVersion20100801.PutMetricData`), with
 * query-compatible errors (`x-amzn-query-error: Code;Sender`). It checks the
 * SigV4 signature against the test credentials (re-signing the request with
 * `@smithy/signature-v4`), decompresses gzip bodies, and enforces the API's
 * per-request limits (1,000 datums, 1 MB, 30 dimensions, 150 values,
 * StorageResolution 1|60, finite values in range, known units). Tests can cue
 * `Throttling` or any other answer.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

export const CW_MAX_DATUMS = 1000;
export const CW_MAX_BYTES = 1_048_576;
export const TEST_CREDENTIALS = { accessKeyId: 'AKIDTRIBUTARYTEST', secretAccessKey: 'tributary-test-secret' };

const UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits',
  'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second', 'Kilobits/Second',
  'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
]);

export interface ReceivedDatum {
  Namespace: string;
  MetricName: string;
  Dimensions?: Array<{ Name: string; Value: string }>;
  /** Epoch seconds, as the JSON protocol carries it. */
  Timestamp?: number;
  Value?: number;
  Values?: number[];
  Counts?: number[];
  StatisticValues?: { SampleCount: number; Sum: number; Minimum: number; Maximum: number };
  Unit?: string;
  StorageResolution?: number;
}

export interface ReceivedPut {
  datums: number;
  wireBytes: number;
  rawBytes: number;
  encoding: string;
  status: number;
  region: string;
}

export interface CuedCwAnswer {
  status: number;
  /** Query-compatible error code, e.g. `Throttling`, `InternalServiceError`. */
  code: string;
  message?: string;
}

export interface FakeCloudWatch {
  readonly url: string;
  readonly datums: ReceivedDatum[];
  readonly requests: ReceivedPut[];
  /** Why requests were refused (empty when the exporter respects the API). */
  readonly violations: string[];
  cue(answer: CuedCwAnswer, times?: number): void;
  find(metric: string, dims?: Record<string, string>): ReceivedDatum[];
  close(): Promise<void>;
}

export const THROTTLING: CuedCwAnswer = { status: 400, code: 'Throttling', message: 'Rate exceeded' };

export async function startFakeCloudWatch(opts: { credentials?: typeof TEST_CREDENTIALS; store?: boolean } = {}): Promise<FakeCloudWatch> {
  const creds = opts.credentials ?? TEST_CREDENTIALS;
  const datums: ReceivedDatum[] = [];
  const requests: ReceivedPut[] = [];
  const violations: string[] = [];
  const cues: CuedCwAnswer[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(Buffer.concat(chunks)).catch((err) => {
        violations.push(`fake error: ${err}`);
        if (!res.headersSent) error(500, 'InternalServiceError', String(err));
      });
    });

    const error = (status: number, code: string, message: string) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': `${code};Sender` });
      res.end(JSON.stringify({ __type: `com.amazonaws.cloudwatch#${code}`, message }));
      return status;
    };

    async function handle(wire: Buffer): Promise<void> {
      const encoding = String(req.headers['content-encoding'] ?? 'identity');
      const record: ReceivedPut = { datums: 0, wireBytes: wire.length, rawBytes: 0, encoding, status: 0, region: '' };
      if (opts.store !== false) requests.push(record);
      if (req.method !== 'POST' || req.headers['x-amz-target'] !== 'GraniteServiceVersion20100801.PutMetricData') {
        record.status = error(400, 'InvalidAction', `unsupported target ${req.headers['x-amz-target']}`);
        return;
      }
      if (!String(req.headers['content-type']).startsWith('application/x-amz-json-1.0')) {
        violations.push(`content-type ${req.headers['content-type']}`);
        record.status = error(400, 'InvalidParameterValue', 'bad content type');
        return;
      }
      const sig = await verifySignature(req, wire, creds);
      record.region = sig.region;
      if (!sig.ok) {
        violations.push(`signature: ${sig.why}`);
        record.status = error(403, 'SignatureDoesNotMatch', sig.why);
        return;
      }
      const cued = cues.shift();
      if (cued) {
        record.status = error(cued.status, cued.code, cued.message ?? cued.code);
        return;
      }
      let raw = wire;
      if (encoding === 'gzip') raw = zlib.gunzipSync(wire);
      else if (encoding !== 'identity') {
        record.status = error(400, 'InvalidParameterValue', `unsupported encoding ${encoding}`);
        return;
      }
      record.rawBytes = raw.length;
      if (raw.length > CW_MAX_BYTES) {
        violations.push(`request of ${raw.length} bytes`);
        record.status = error(413, 'RequestEntityTooLarge', `request size ${raw.length} exceeds ${CW_MAX_BYTES} bytes`);
        return;
      }
      const problems: string[] = [];
      const parsed = parsePut(raw, problems);
      record.datums = parsed.length;
      if (problems.length > 0) {
        violations.push(...problems);
        record.status = error(400, 'InvalidParameterValue', problems.slice(0, 3).join('; '));
        return;
      }
      if (opts.store !== false) datums.push(...parsed);
      record.status = 200;
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'fake' });
      res.end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    datums,
    requests,
    violations,
    cue(answer, times = 1) {
      for (let i = 0; i < times; i++) cues.push(answer);
    },
    find(metric, dims) {
      return datums.filter((d) => {
        if (d.MetricName !== metric) return false;
        if (dims === undefined) return true;
        const have = d.Dimensions ?? [];
        return have.length === Object.keys(dims).length && have.every((x) => dims[x.Name] === x.Value);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Re-sign the request with the expected secret over the headers the client signed; the signatures must match. */
async function verifySignature(req: http.IncomingMessage, body: Buffer, creds: typeof TEST_CREDENTIALS): Promise<{ ok: boolean; why: string; region: string }> {
  const auth = String(req.headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, why: 'missing or malformed Authorization header', region: '' };
  const [, accessKey, , region, service, signedHeaders, signature] = m;
  if (accessKey !== creds.accessKeyId) return { ok: false, why: `unknown access key ${accessKey}`, region };
  if (service !== 'monitoring') return { ok: false, why: `signed for service ${service}`, region };
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const dm = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dm) return { ok: false, why: 'missing x-amz-date', region };
  const signingDate = new Date(Date.UTC(+dm[1], +dm[2] - 1, +dm[3], +dm[4], +dm[5], +dm[6]));
  if (Math.abs(Date.now() - signingDate.getTime()) > 15 * 60_000) return { ok: false, why: 'signature expired', region };
  const headers: Record<string, string> = {};
  for (const h of signedHeaders.split(';')) {
    const v = req.headers[h];
    if (v === undefined) return { ok: false, why: `signed header ${h} missing`, region };
    headers[h] = Array.isArray(v) ? v.join(',') : v;
  }
  const [hostname, port] = String(req.headers.host).split(':');
  const signer = new SignatureV4({ credentials: creds, region, service, sha256: Sha256 });
  const signed = (await signer.sign(
    { method: req.method ?? 'POST', protocol: 'http:', hostname, port: port ? Number(port) : undefined, path: (req.url ?? '/').split('?')[0], query: {}, headers, body } as any,
    { signingDate },
  )) as unknown as { headers: Record<string, string> };
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? signed.headers.Authorization))?.[1];
  return expected === signature ? { ok: true, why: '', region } : { ok: false, why: 'signature does not match', region };
}

const finiteInRange = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && (v === 0 || (Math.abs(v) >= 8.515920e-109 && Math.abs(v) <= 1.174271e108));

function parsePut(raw: Buffer, problems: string[]): ReceivedDatum[] {
  let doc: any;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch {
    problems.push('body is not JSON');
    return [];
  }
  const ns = doc?.Namespace;
  if (typeof ns !== 'string' || ns === '' || ns.length > 255 || ns.startsWith('AWS/')) problems.push(`Namespace ${ns} invalid`);
  const list = doc?.MetricData;
  if (!Array.isArray(list) || list.length === 0) {
    problems.push('MetricData must be a non-empty list');
    return [];
  }
  if (list.length > CW_MAX_DATUMS) problems.push(`MetricData has ${list.length} members, more than ${CW_MAX_DATUMS}`);
  const nowS = Date.now() / 1000;
  const out: ReceivedDatum[] = [];
  for (const [i, d] of list.entries()) {
    const at = `MetricData.member.${i + 1}`;
    if (typeof d?.MetricName !== 'string' || d.MetricName === '' || d.MetricName.length > 255) problems.push(`${at}.MetricName invalid`);
    const dims = d?.Dimensions ?? [];
    if (!Array.isArray(dims) || dims.length > 30) problems.push(`${at}.Dimensions: at most 30`);
    else
      for (const x of dims) {
        if (typeof x?.Name !== 'string' || x.Name === '' || x.Name.length > 255) problems.push(`${at}.Dimensions.Name invalid`);
        if (typeof x?.Value !== 'string' || x.Value === '' || x.Value.length > 1024) problems.push(`${at}.Dimensions.Value invalid`);
      }
    if (new Set(dims.map((x: any) => x?.Name)).size !== dims.length) problems.push(`${at}.Dimensions: duplicate names`);
    const kinds = [d?.Value !== undefined, d?.StatisticValues !== undefined, d?.Values !== undefined].filter(Boolean).length;
    if (kinds !== 1) problems.push(`${at}: exactly one of Value, StatisticValues, Values`);
    if (d?.Value !== undefined && !finiteInRange(d.Value)) problems.push(`${at}.Value ${d.Value} invalid`);
    if (d?.Values !== undefined) {
      if (!Array.isArray(d.Values) || d.Values.length === 0 || d.Values.length > 150) problems.push(`${at}.Values: 1 to 150 values`);
      else if (!d.Values.every(finiteInRange)) problems.push(`${at}.Values: invalid value`);
      else if (new Set(d.Values).size !== d.Values.length) problems.push(`${at}.Values: values not distinct`);
      if (d.Counts !== undefined && (!Array.isArray(d.Counts) || d.Counts.length !== d.Values.length || !d.Counts.every((c: unknown) => typeof c === 'number' && c >= 0)))
        problems.push(`${at}.Counts must match Values`);
    }
    if (d?.StatisticValues !== undefined) {
      const s = d.StatisticValues;
      if (![s?.SampleCount, s?.Sum, s?.Minimum, s?.Maximum].every(finiteInRange) || !(s.SampleCount > 0) || s.Minimum > s.Maximum) problems.push(`${at}.StatisticValues invalid`);
    }
    if (d?.Unit !== undefined && !UNITS.has(d.Unit)) problems.push(`${at}.Unit ${d.Unit} invalid`);
    if (d?.StorageResolution !== undefined && d.StorageResolution !== 1 && d.StorageResolution !== 60) problems.push(`${at}.StorageResolution must be 1 or 60`);
    if (d?.Timestamp !== undefined && (typeof d.Timestamp !== 'number' || d.Timestamp < nowS - 14 * 86400 || d.Timestamp > nowS + 7200)) problems.push(`${at}.Timestamp out of range`);
    out.push({ Namespace: ns, ...d });
  }
  return out;
}
