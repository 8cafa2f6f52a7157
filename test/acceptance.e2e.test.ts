/**
 * Acceptance checks of the external contract that the other end-to-end files
 * do not make, run as an SRE coming from otelcol would:
 * - `npm start`'s config: the §4 addresses, and the daemon binds exactly its
 *   configured listeners, nothing more;
 * - an otelcol-contrib style config (health_check extension, service.telemetry,
 *   otelcol exporter aliases and options) loads unchanged and answers otelcol's
 *   health check path;
 * - `validate` in YAML and TOML: every kind of error with its exact line and column;
 * - secrets from the environment never reach logs (at debug level, with failing
 *   backends), `/config` or `print-config`;
 * - every §6 self-metric present with its labels, and the §6 accounting equation
 *   for exporters that reject, fail, hang and are dead, beside filter and
 *   sampling drops;
 * - hostile gRPC input gets gRPC errors and the daemon keeps serving.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { BIN, REPO_ROOT, startDaemon, freePort, freeUdpPort, eventually, parsePromText, type DaemonHandle } from './harness/daemon.ts';
import { encodeExportRequest } from '../src/otlp/encode.ts';
import { everyTypeBatch, typicalBatch } from '../src/otlp/testdata.ts';
import { countPoints, type MetricsBatch } from '../src/model/metrics.ts';
import { gaugeBatch } from '../src/exporters/helper/testing.ts';
import { TestBackend } from '../src/exporters/otlp_common/test-backend.ts';

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeTemp(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tributary-acceptance-')), name);
  writeFileSync(file, text);
  return file;
}

async function postProto(port: number, batch: MetricsBatch, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', ...headers },
    body: Buffer.from(encodeExportRequest(batch)),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Points stamped now (exporters and Prometheus refuse samples far in the past). */
function nowGauges(n: number, name: string): MetricsBatch {
  const batch = gaugeBatch(n, 0, name);
  const now = Date.now() * 1e6;
  for (const rm of batch.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) for (const p of m.points) p.timeUnixNano = now;
  return batch;
}

/** TCP listening and UDP bound sockets of a process, as `tcp 127.0.0.1:4317`, read from /proc. */
function boundSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const out: string[] = [];
  for (const proto of ['tcp', 'udp', 'tcp6', 'udp6'] as const) {
    for (const line of readFileSync(`/proc/${pid}/net/${proto}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9])) continue;
      // tcp: only listeners (state 0A); udp: every bound socket.
      if (proto.startsWith('tcp') && f[3] !== '0A') continue;
      const [hexIp, hexPort] = f[1].split(':');
      // IPv4 as dotted quad; IPv6 left in /proc's hex (none is expected).
      const ip = hexIp.length === 8 ? [3, 2, 1, 0].map((i) => parseInt(hexIp.slice(i * 2, i * 2 + 2), 16)).join('.') : hexIp;
      out.push(`${proto} ${ip}:${parseInt(hexPort, 16)}`);
    }
  }
  return out.sort();
}

describe('npm start', () => {
  it('config/default.yaml listens on the CONTRACT §4 addresses, receivers on loopback', () => {
    const r = cli(['print-config', '--config', 'config/default.yaml']);
    expect(r.code).toBe(0);
    const endpoints = [...r.stdout.matchAll(/endpoint: (\S+)/g)].map((m) => m[1]);
    expect(endpoints).toEqual(['127.0.0.1:4317', '127.0.0.1:4318', '127.0.0.1:8125', '0.0.0.0:9464', '0.0.0.0:13133']);
    expect(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts.start).toBe('node bin/tributary.js run --config config/default.yaml');
  });

  it('binds exactly the configured listeners and no other socket', async () => {
    const [grpc, httpPort, prom, admin, udp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freeUdpPort()]);
    // The shipped file with each port moved to a free one (and the 0.0.0.0 ones to loopback: tests stay on loopback).
    const text = readFileSync(join(REPO_ROOT, 'config/default.yaml'), 'utf8')
      .replace('127.0.0.1:4317', `127.0.0.1:${grpc}`)
      .replace('127.0.0.1:4318', `127.0.0.1:${httpPort}`)
      .replace('127.0.0.1:8125', `127.0.0.1:${udp}`)
      .replace('0.0.0.0:9464', `127.0.0.1:${prom}`);
    const d = await startDaemon({ config: text, adminPort: admin });
    try {
      expect(boundSockets(d.pid)).toEqual(
        [`tcp 127.0.0.1:${grpc}`, `tcp 127.0.0.1:${httpPort}`, `tcp 127.0.0.1:${prom}`, `tcp 127.0.0.1:${admin}`, `udp 127.0.0.1:${udp}`].sort(),
      );
    } finally {
      expect(await d.stop('SIGINT')).toBe(0);
    }
  });
});

describe('an otelcol-contrib config that uses only Tributary components', () => {
  it('loads unchanged; health_check moves the admin endpoint and answers on its default path /; telemetry.logs.level applies', async () => {
    const [hc, grpc, httpPort, prom, udp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freeUdpPort()]);
    const deadPort = await freePort();
    const file = writeTemp(
      'otelcol.yaml',
      `extensions:
  health_check:
    endpoint: 127.0.0.1:${hc}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${grpc}
      http:
        endpoint: 127.0.0.1:${httpPort}
  statsd:
    endpoint: 127.0.0.1:${udp}
    aggregation_interval: 60s
    enable_metric_type: true
    is_monotonic_counter: false
    timer_histogram_mapping:
      - statsd_type: "histogram"
        observer_type: "gauge"
      - statsd_type: "timing"
        observer_type: "histogram"
        histogram:
          max_size: 100
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 4000
    spike_limit_mib: 800
  batch:
    send_batch_size: 8192
    send_batch_max_size: 10000
    timeout: 50ms
  resource:
    attributes:
      - key: deployment.environment
        value: prod
        action: upsert
exporters:
  prometheus:
    endpoint: 127.0.0.1:${prom}
    namespace: app
    const_labels:
      region: eu
    metric_expiration: 180m
    resource_to_telemetry_conversion:
      enabled: true
  otlp:
    endpoint: 127.0.0.1:${deadPort}
    tls:
      insecure: true
    compression: gzip
    sending_queue:
      enabled: true
      num_consumers: 2
      queue_size: 5000
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
      max_interval: 30s
      max_elapsed_time: 300s
    timeout: 5s
  debug:
    verbosity: basic
service:
  extensions: [health_check]
  telemetry:
    logs:
      level: debug
      encoding: json
    metrics:
      level: detailed
  pipelines:
    metrics:
      receivers: [otlp, statsd]
      processors: [memory_limiter, resource, batch]
      exporters: [prometheus, otlp, debug]
`,
    );
    expect(cli(['validate', '--config', file])).toMatchObject({ code: 0, stdout: 'config OK\n' });
    // Started as an SRE would: no --set, the health_check endpoint is the admin endpoint.
    // The file as written; only the drain is shortened (its otlp backend is down, so SIGTERM would wait the default 20s).
    const child = spawn(process.execPath, [BIN, '--config', file, '--set', 'service.shutdown_timeout=1s'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stdout.on('data', (b) => (logs += b));
    child.stderr.on('data', (b) => (logs += b));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanups.push(() => child.kill('SIGKILL'));
    const base = `http://127.0.0.1:${hc}`;
    const root = await eventually(async () => (await fetch(`${base}/`).catch(() => undefined))?.status, { timeoutMs: 20_000 });
    // otelcol's health_check serves `/` by default; Kubernetes probes copied from otelcol ask for it.
    expect(root).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    expect(await postProto(httpPort, nowGauges(2, 'acc.otelcol'))).toBe(200);
    const text = await eventually(async () => {
      const t = await (await fetch(`http://127.0.0.1:${prom}/metrics`)).text();
      return t.includes('app_acc_otelcol{') ? t : undefined;
    });
    const sample = parsePromText(text ?? '').find((s) => s.name === 'app_acc_otelcol' && s.labels.seq === '1');
    expect(sample?.labels).toMatchObject({ region: 'eu', deployment_environment: 'prod', job: 'test' });
    // level: debug took effect (the dead otlp backend's retries are logged at debug after the first warning).
    expect(await eventually(() => logs.includes('"level":"debug"'))).toBe(true);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);
});

describe('validate reports every error with its line and column', () => {
  it('in YAML', () => {
    const file = writeTemp(
      'bad.yaml',
      `receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:4317 }
      http:
        endpoint: 127.0.0.1:4317
  nosuch: {}
  statsd:
    endpoint: 127.0.0.1:8125
    aggregation_interval: 10 parsecs
processors:
  batch:
    send_batch_size: -5
    bogus_key: 1
exporters:
  otlp_http/up:
    endpoint: "\${env:ACCEPTANCE_UNSET_VAR}"
  file:
    path: /tmp/acceptance.jsonl
    rotation: { max_megabytes: lots }
  prometheus:
    endpoint: 127.0.0.1:99999
service:
  pipelines:
    metrics:
      receivers: [otlp, statsd, ghost]
      processors: [batch]
      exporters: [otlp_http/up, prometheus, file/missing]
    traces:
      receivers: [otlp]
      exporters: [prometheus]
`,
    );
    const r = cli(['validate', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    const expected = [
      '6:19: receivers.otlp.protocols.http.endpoint: same address as protocols.grpc.endpoint (127.0.0.1:4317)',
      '7:3: receivers.nosuch: unknown receiver type "nosuch" (known types: otlp, statsd)',
      '10:27: receivers.statsd.aggregation_interval: invalid duration "10 parsecs"',
      '13:22: processors.batch.send_batch_size: must be >= 1 (got -5)',
      '14:5: processors.batch.bogus_key: unknown key',
      '17:15: exporters.otlp_http/up.endpoint: environment variable ACCEPTANCE_UNSET_VAR is not set',
      '18:3: exporters.file: exporter is defined but not used in any pipeline (warning)',
      '20:32: exporters.file.rotation.max_megabytes: ',
      '22:15: exporters.prometheus.endpoint: must be host:port with a port from 0 to 65535',
      '26:33: service.pipelines.metrics.receivers[2]: receiver "ghost" is not defined under receivers',
      '28:45: service.pipelines.metrics.exporters[2]: exporter "file/missing" is not defined under exporters',
      '29:5: service.pipelines.traces: only metrics pipelines are supported (Tributary carries no traces)',
    ];
    expect(lines.map((l, i) => (l.startsWith(`${file}:${expected[i]}`) ? 'ok' : l))).toEqual(expected.map(() => 'ok'));
  });

  it('in TOML, with a bad size and an unset variable', () => {
    const file = writeTemp(
      'bad.toml',
      `[receivers.otlp.protocols.grpc]
endpoint = "127.0.0.1:4317"
[receivers.otlp.protocols.http]
endpoint = "127.0.0.1:4317"
max_request_body_size = "20 parsecs"

[receivers.nosuch]

[processors.batch]
timeout = "10x"
send_batch_size = 0

[exporters."otlp_http/up"]
endpoint = "\${env:ACCEPTANCE_UNSET_VAR}"
headers = { x-api-key = "\${env:ACCEPTANCE_UNSET_KEY:-}" }

[exporters.prometheus]
endpoint = "127.0.0.1:9464"
bogus = true

[service.pipelines.metrics]
receivers = ["otlp", "ghost"]
processors = ["batch"]
exporters = ["otlp_http/up", "prometheus"]

[service.pipelines.traces]
receivers = ["otlp"]
exporters = ["prometheus"]
`,
    );
    const r = cli(['validate', '--config', file]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    const at = (prefix: string) => lines.find((l) => l.startsWith(`${file}:${prefix}`));
    expect(at('5:25: receivers.otlp.protocols.http.max_request_body_size: invalid size "20 parsecs"')).toBeDefined();
    expect(at('7:12: receivers.nosuch: unknown receiver type "nosuch" (known types: otlp, statsd)')).toBeDefined();
    expect(at('10:11: processors.batch.timeout: invalid duration "10x"')).toBeDefined();
    expect(at('11:19: processors.batch.send_batch_size: must be >= 1 (got 0)')).toBeDefined();
    expect(at('14:12: exporters.otlp_http/up.endpoint: environment variable ACCEPTANCE_UNSET_VAR is not set')).toBeDefined();
    expect(at('19:1: exporters.prometheus.bogus: unknown key')).toBeDefined();
    expect(at('22:22: service.pipelines.metrics.receivers[1]: receiver "ghost" is not defined under receivers')).toBeDefined();
    expect(at('26:20: service.pipelines.traces: only metrics pipelines are supported')).toBeDefined();
    // A default of "" is a value, not an unset variable.
    expect(lines.some((l) => l.includes('ACCEPTANCE_UNSET_KEY'))).toBe(false);
    expect(lines).toHaveLength(8);
  });

  it('reports two listeners on one address across components, and a --set error as --set', () => {
    const file = writeTemp(
      'dup.yaml',
      `receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:9464 } } }
exporters:
  prometheus: { endpoint: 127.0.0.1:9464 }
service:
  pipelines: { metrics: { receivers: [otlp], exporters: [prometheus] } }
`,
    );
    const r = cli(['validate', '--config', file]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines.some((l) => l.startsWith(`${file}:2:`) && l.includes('127.0.0.1:9464') && l.includes('exporters.prometheus.endpoint'))).toBe(true);
    expect(lines.some((l) => l.startsWith(`${file}:4:`) && l.includes('127.0.0.1:9464') && l.includes('receivers.otlp'))).toBe(true);
    const set = cli(['validate', '--config', file, '--set', 'receivers.otlp.protocols.http.endpoint=127.0.0.1:9465', '--set', 'exporters.prometheus.bogus=1']);
    expect(set.code).toBe(1);
    expect(set.stderr).toMatch(/^--set:2:1: exporters\.prometheus\.bogus: unknown key/m);
    expect(set.stderr).not.toContain('9464');
  });
});

describe('secrets from the environment', () => {
  const SECRETS = {
    ACC_TOKEN: 'tok-5f1c0ffee-bearer',
    ACC_DD_KEY: 'ddkey-77aa91-datadog',
    ACC_PG_PASS: 'pgpw-31337-dsn',
    ACC_RW_PASS: 'rwpw-4242-userinfo',
  };

  it('never appear in logs at debug level (backends refusing and down), in /config or in print-config', async () => {
    const dd = new TestBackend();
    dd.fallback = { status: 403, body: '{"errors":["Forbidden"]}' };
    await dd.start();
    const up = new TestBackend();
    up.fallback = { status: 401 };
    await up.start();
    cleanups.push(() => dd.stop(), () => up.stop());
    const [httpPort, closed] = await Promise.all([freePort(), freePort()]);
    const config = `
receivers:
  otlp:
    protocols: { http: { endpoint: 127.0.0.1:${httpPort} } }
    auth: { bearer_token: "\${env:ACC_TOKEN}" }
exporters:
  datadog:
    api: { key: "\${env:ACC_DD_KEY}" }
    endpoint: ${dd.url}
  postgres:
    dsn: "postgres://tributary:\${env:ACC_PG_PASS}@127.0.0.1:${closed}/metrics"
    retry_on_failure: { initial_interval: 50ms, max_elapsed_time: 1s }
  otlp_http/up:
    endpoint: ${up.url}
    headers: { Authorization: "Bearer \${env:ACC_TOKEN}", x-api-key: "\${env:ACC_DD_KEY}" }
  prometheusremotewrite:
    endpoint: "http://writer:\${env:ACC_RW_PASS}@127.0.0.1:${closed}/api/v1/write"
    retry_on_failure: { initial_interval: 50ms, max_elapsed_time: 1s }
service:
  telemetry: { logs: { level: debug } }
  pipelines:
    metrics: { receivers: [otlp], exporters: [datadog, postgres, otlp_http/up, prometheusremotewrite] }
`;
    const d = await startDaemon({ config, env: SECRETS });
    try {
      expect(await postProto(httpPort, nowGauges(3, 'acc.secret'), { authorization: 'Bearer wrong' })).toBe(401);
      expect(await postProto(httpPort, nowGauges(3, 'acc.secret'), { authorization: `Bearer ${SECRETS.ACC_TOKEN}` })).toBe(200);
      // Each exporter has failed or retried at least once, so its errors were logged.
      const metric = (name: string, labels: Record<string, string>) => d.selfMetric(name, labels);
      expect(await eventually(async () => (await metric('tributary_exporter_failed_points_total', { exporter: 'datadog', reason: 'forbidden' })) === 3)).toBe(true);
      expect(await eventually(async () => (await metric('tributary_exporter_failed_points_total', { exporter: 'otlp_http/up', reason: 'http_401' })) === 3)).toBe(true);
      expect(await eventually(async () => (await metric('tributary_exporter_retries_total', { exporter: 'postgres' })) > 0)).toBe(true);
      expect(await eventually(async () => (await metric('tributary_exporter_retries_total', { exporter: 'prometheusremotewrite' })) > 0)).toBe(true);
      // The backends did get the credentials: the redaction is in what is shown, not in what is sent.
      expect(dd.requests[0]?.headers['dd-api-key']).toBe(SECRETS.ACC_DD_KEY);
      expect(up.requests[0]?.headers.authorization).toBe(`Bearer ${SECRETS.ACC_TOKEN}`);

      const shown = [d.logs(), await (await fetch(`${d.adminUrl}/config`)).text(), cli(['print-config', '--config', d.configPath], SECRETS).stdout];
      expect(shown[1]).toContain('[REDACTED]');
      expect(shown[2]).toContain('[REDACTED]');
      for (const text of shown) for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
      // A backend that is down says why at the default level's severity (warn), once per reason.
      const warnings = d.logs().split('\n').filter((l) => l.includes('"level":"warn"') && l.includes('"component":"prometheusremotewrite"'));
      expect(warnings.some((l) => l.includes('ECONNREFUSED'))).toBe(true);
    } finally {
      await d.kill();
    }
  }, 30_000);
});

describe('self-metrics and the accounting of CONTRACT §6', () => {
  it('are all present with their labels, and accepted = sent + failed + dropped + queued for every exporter and pipeline', async () => {
    const reject = new TestBackend();
    reject.fallback = { status: 400, body: 'bad request' };
    const flaky = new TestBackend();
    flaky.fallback = { status: 503 };
    const hang = new TestBackend();
    hang.fallback = 'hang';
    await Promise.all([reject.start(), flaky.start(), hang.start()]);
    cleanups.push(() => reject.stop(), () => flaky.stop(), () => hang.stop());
    const [httpPort, sidePort, promPort, dead, udp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freeUdpPort()]);
    const noRetry = 'retry_on_failure: { enabled: false }';
    const d = await startDaemon({
      config: `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${httpPort} } } }
  otlp/side: { protocols: { http: { endpoint: 127.0.0.1:${sidePort} } } }
  statsd: { endpoint: 127.0.0.1:${udp}, aggregation_interval: 100ms }
processors:
  filter/noise: { metrics: { exclude: { match_type: strict, metric_names: [acc.noise] } } }
  sampling: { rules: [{ name: never, metric_names: [acc.sampled], rate: 0 }] }
  batch: { timeout: 20ms }
exporters:
  prometheus: { endpoint: 127.0.0.1:${promPort} }
  otlp_http/reject: { endpoint: ${reject.url}, ${noRetry} }
  otlp_http/flaky:
    endpoint: ${flaky.url}
    retry_on_failure: { initial_interval: 10ms, max_interval: 20ms, max_elapsed_time: 150ms }
    circuit_breaker: { enabled: false }
  otlp_http/hang: { endpoint: ${hang.url}, timeout: 100ms, ${noRetry} }
  otlp_http/dead:
    endpoint: http://127.0.0.1:${dead}
    retry_on_failure: { initial_interval: 10ms, max_elapsed_time: 0 }
    circuit_breaker: { failure_threshold: 2, open_duration: 1m }
service:
  pipelines:
    metrics:
      receivers: [otlp, statsd]
      processors: [filter/noise, sampling, batch]
      exporters: [prometheus, otlp_http/reject, otlp_http/flaky, otlp_http/hang, otlp_http/dead]
    # Shares three exporter instances with the pipeline above: they count sent/failed per pipeline.
    metrics/side:
      receivers: [otlp/side]
      exporters: [prometheus, otlp_http/reject, otlp_http/dead]
`,
    });
    cleanups.push(() => d.kill());

    // Traffic: kept, filtered and sampled-out points over OTLP; good and bad StatsD lines; an invalid point.
    for (const name of ['acc.kept', 'acc.noise', 'acc.sampled']) expect(await postProto(httpPort, nowGauges(4, name))).toBe(200);
    const invalid = everyTypeBatch();
    const hist = invalid.resourceMetrics[0].scopeMetrics[0].metrics[3];
    if (hist.type !== 'histogram') throw new Error('fixture changed');
    hist.points[0].bucketCounts = [];
    expect(await postProto(httpPort, invalid)).toBe(200);
    const sock = dgram.createSocket('udp4');
    const binary = Buffer.from(Array.from({ length: 1000 }, (_, i) => 0x80 + (i % 0x80)));
    for (const datagram of ['acc.statsd:1|c\nacc.statsd.g:5|g\nnot a line\n_e{1,1}:a|b', binary, Buffer.alloc(65_507, 0x78)]) {
      await new Promise<void>((resolve) => sock.send(datagram, udp, '127.0.0.1', () => resolve()));
    }
    sock.close();
    const side = 3;
    expect(await postProto(sidePort, nowGauges(side, 'acc.side'))).toBe(200);

    const accepted = async (pipeline = 'metrics') => d.selfMetric('tributary_receiver_accepted_points_total', { pipeline });
    const dropped = async (pipeline = 'metrics') => d.selfMetric('tributary_processor_dropped_points_total', { pipeline });
    const exporters = ['prometheus', 'otlp_http/reject', 'otlp_http/flaky', 'otlp_http/hang', 'otlp_http/dead'];
    const pipelinesOf = (exporter: string) => (['prometheus', 'otlp_http/reject', 'otlp_http/dead'].includes(exporter) ? ['metrics', 'metrics/side'] : ['metrics']);
    const queued = (exporter: string) => d.selfMetric('tributary_exporter_queue_size', { exporter });
    /** Sent + failed of one exporter for the points of one pipeline. */
    const handled = async (exporter: string, pipeline: string) =>
      (await d.selfMetric('tributary_exporter_sent_points_total', { exporter, pipeline })) + (await d.selfMetric('tributary_exporter_failed_points_total', { exporter, pipeline }));
    // A quiet moment: the statsd interval flushed and every exporter settled.
    await eventually(async () => (await accepted()) >= countPoints(invalid) - 1 + 12 + 2 && (await accepted('metrics/side')) === side);
    const quiet = await eventually(
      async () => {
        for (const e of exporters) {
          // The queue gauge is per exporter instance; with it, the pipelines an exporter serves add up.
          let expect = 0;
          let counted = await queued(e);
          for (const p of pipelinesOf(e)) {
            expect += (await accepted(p)) - (await dropped(p));
            counted += await handled(e, p);
          }
          if (counted !== expect) return false;
        }
        // Everything but the dead backend's queue has drained (its retries and timeouts are over).
        for (const e of exporters.slice(0, -1)) if ((await queued(e)) !== 0) return false;
        return (await d.selfMetric('tributary_exporter_circuit_state', { exporter: 'otlp_http/dead' })) === 2;
      },
      { timeoutMs: 10_000 },
    );
    expect(quiet).toBe(true);
    // With their queues empty, the equation holds for each pipeline on its own.
    for (const e of exporters.slice(0, -1))
      for (const p of pipelinesOf(e)) expect({ e, p, handled: await handled(e, p) }).toEqual({ e, p, handled: (await accepted(p)) - (await dropped(p)) });

    const total = await accepted();
    expect(total).toBe(countPoints(invalid) - 1 + 12 + 2);
    expect(await d.selfMetric('tributary_processor_dropped_points_total', { processor: 'filter/noise', pipeline: 'metrics', reason: 'filtered' })).toBe(4);
    expect(await d.selfMetric('tributary_processor_dropped_points_total', { processor: 'sampling', pipeline: 'metrics', reason: 'sampled' })).toBe(4);
    const delivered = total - 8;
    expect(await d.selfMetric('tributary_exporter_sent_points_total', { exporter: 'prometheus', pipeline: 'metrics' })).toBe(delivered);
    expect(await d.selfMetric('tributary_exporter_sent_points_total', { exporter: 'prometheus', pipeline: 'metrics/side' })).toBe(side);
    expect(await d.selfMetric('tributary_exporter_failed_points_total', { exporter: 'otlp_http/reject', pipeline: 'metrics', reason: 'http_400' })).toBe(delivered);
    expect(await d.selfMetric('tributary_exporter_failed_points_total', { exporter: 'otlp_http/reject', pipeline: 'metrics/side', reason: 'http_400' })).toBe(side);
    expect(await d.selfMetric('tributary_exporter_failed_points_total', { exporter: 'otlp_http/flaky', pipeline: 'metrics', reason: 'http_503' })).toBe(delivered);
    expect(await d.selfMetric('tributary_exporter_failed_points_total', { exporter: 'otlp_http/hang', pipeline: 'metrics', reason: 'timeout' })).toBe(delivered);
    expect(await d.selfMetric('tributary_exporter_queue_size', { exporter: 'otlp_http/dead' })).toBe(delivered + side);

    // Every family of §6 is there, each with its labels.
    const samples = await d.metrics();
    const labelsOf = (name: string) => samples.filter((s) => s.name === name).map((s) => Object.keys(s.labels).sort().join(','));
    expect(labelsOf('tributary_receiver_accepted_points_total')).toContain('pipeline,receiver');
    expect(labelsOf('tributary_receiver_refused_points_total')).toContain('reason,receiver');
    expect(labelsOf('tributary_processor_dropped_points_total')).toContain('pipeline,processor,reason');
    // Sent, failed and retries always name the pipeline (one exporter instance serves several).
    expect(new Set(labelsOf('tributary_exporter_sent_points_total'))).toEqual(new Set(['exporter,pipeline']));
    expect(new Set(labelsOf('tributary_exporter_failed_points_total'))).toEqual(new Set(['exporter,pipeline,reason']));
    expect(new Set(labelsOf('tributary_exporter_retries_total'))).toEqual(new Set(['exporter,pipeline']));
    expect(labelsOf('tributary_exporter_queue_size')).toContain('exporter');
    expect(labelsOf('tributary_exporter_queue_capacity')).toContain('exporter');
    expect(labelsOf('tributary_exporter_circuit_state')).toContain('exporter');
    expect(labelsOf('tributary_sampling_rate').length).toBeGreaterThan(0);
    expect(labelsOf('tributary_statsd_bad_lines_total')).toContain('reason,receiver');
    // Present at 0 before any reload, so an alert on increase() sees the first failure.
    expect(samples.filter((s) => s.name === 'tributary_config_reloads_total').map((s) => [s.labels.result, s.value]).sort()).toEqual([
      ['failure', 0],
      ['success', 0],
    ]);
    expect(labelsOf('process_resident_memory_bytes')).toEqual(['']);
    expect(labelsOf('nodejs_eventloop_lag_seconds')).toEqual(['']);
    expect(await d.selfMetric('tributary_receiver_refused_points_total', { receiver: 'otlp', reason: 'invalid' })).toBe(1);
    // Garbage and a maximal datagram are bad lines, counted; every line is accounted for.
    expect(await d.selfMetric('tributary_statsd_bad_lines_total', { receiver: 'statsd' })).toBe(3);
    expect(await d.selfMetric('tributary_statsd_lines_total', { receiver: 'statsd' })).toBe(2 + 3 + 1);
    expect((await fetch(`${d.adminUrl}/healthz`)).status).toBe(200);
  }, 30_000);
});

describe('hostile gRPC input', () => {
  const EXPORT = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
  const frame = (payload: Buffer, compressed = 0, claimedLength = payload.length) => {
    const header = Buffer.alloc(5);
    header[0] = compressed;
    header.writeUInt32BE(claimedLength, 1);
    return Buffer.concat([header, payload]);
  };
  /** One raw gRPC call over HTTP/2; resolves with its grpc-status (or 'http NNN' when not gRPC at all). */
  function call(port: number, body: Buffer, headers: Record<string, string> = {}): Promise<string> {
    return new Promise((resolve) => {
      const client = http2.connect(`http://127.0.0.1:${port}`);
      client.on('error', () => {});
      const req = client.request({ ':method': 'POST', ':path': EXPORT, 'content-type': 'application/grpc', te: 'trailers', ...headers });
      let status = '';
      req.on('response', (h) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        else if (h[':status'] !== 200) status = `http ${h[':status']}`;
      });
      req.on('trailers', (t) => (status = String(t['grpc-status'])));
      req.on('data', () => {});
      req.on('error', () => {});
      const timer = setTimeout(() => req.close(), 10_000);
      req.on('close', () => {
        clearTimeout(timer);
        client.close();
        resolve(status || 'no answer');
      });
      req.end(body);
    });
  }

  let d: DaemonHandle;
  let grpcPort: number;
  const refused = () => d.selfMetric('tributary_receiver_refused_requests_total', { receiver: 'otlp' });

  it('answers each with a gRPC error and keeps serving', async () => {
    const [g, promPort] = await Promise.all([freePort(), freePort()]);
    grpcPort = g;
    d = await startDaemon({
      config: `
receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${grpcPort} } } }
exporters:
  prometheus: { endpoint: 127.0.0.1:${promPort} }
service:
  pipelines: { metrics: { receivers: [otlp], exporters: [prometheus] } }
`,
    });
    cleanups.push(() => d.kill());
    const good = Buffer.from(encodeExportRequest(typicalBatch(3)));
    expect(await call(grpcPort, frame(good))).toBe('0');
    expect(await call(grpcPort, frame(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])))).toBe('3'); // INVALID_ARGUMENT
    expect(await call(grpcPort, frame(good.subarray(0, 10), 0, 100))).toBe('3'); // truncated message: INVALID_ARGUMENT
    expect(await call(grpcPort, Buffer.from([0, 0, 0]))).toBe('3'); // truncated frame header: INVALID_ARGUMENT
    expect(await call(grpcPort, frame(good.subarray(0, 10), 0, 0x7fffffff))).toBe('8'); // claims 2 GiB: RESOURCE_EXHAUSTED
    expect(await call(grpcPort, frame(zlib.gzipSync(Buffer.alloc(64 << 20)), 1), { 'grpc-encoding': 'gzip' })).toBe('8'); // gzip bomb
    expect(await call(grpcPort, frame(good, 1), { 'grpc-encoding': 'lz4' })).toBe('12'); // unknown encoding: UNIMPLEMENTED (gRPC compression spec)
    expect(await call(grpcPort, frame(good), { 'content-type': 'application/json' })).toBe('http 415');
    expect(await call(grpcPort, frame(good))).toBe('0');
    expect((await fetch(`${d.adminUrl}/healthz`)).status).toBe(200);
    expect(await d.selfMetric('tributary_receiver_accepted_points_total', { receiver: 'otlp' })).toBe(2 * countPoints(typicalBatch(3)));
    expect(await refused()).toBeGreaterThanOrEqual(1);
  }, 30_000);

  // Malformed protobuf is refused by the Export handler; the rest by grpc-js before the handler runs,
  // counted by the receiver's interceptor. The HTTP 415 (not a gRPC call at all) is answered by
  // grpc-js's HTTP/2 layer before any call exists, so it is not among them.
  it('counts every refused gRPC request with a reason (truncated, oversize, gzip bomb, unknown encoding)', async () => {
    expect(await refused()).toBe(6);
    const reason = (r: string) => d.selfMetric('tributary_receiver_refused_requests_total', { receiver: 'otlp', reason: r });
    expect([await reason('malformed'), await reason('too_large'), await reason('unsupported_encoding')]).toEqual([3, 2, 1]);
  });
});
