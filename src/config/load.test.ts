import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadConfig, type LoadOptions, type LoadResult } from './load.ts';
import { formatIssue } from './model.ts';
import { fakeRegistry } from './testdata/fake-registry.ts';

const dir = fileURLToPath(new URL('./testdata/', import.meta.url));
const td = (name: string) => `${dir}${name}`;

function load(files: string[], opts: Partial<LoadOptions> = {}): Promise<LoadResult> {
  return loadConfig({ files: files.map(td), env: {}, registry: fakeRegistry, ...opts });
}

/** Issues as the CLI prints them, with the testdata directory cut for readability. */
function lines(r: LoadResult, severity?: 'error' | 'warning'): string[] {
  return r.issues.filter((i) => !severity || i.severity === severity).map((i) => formatIssue(i).replace(dir, ''));
}

const fullEnv = { UPSTREAM_TOKEN: 's3cr3t', QUEUE_SIZE: '500' };

describe('loadConfig: formats', () => {
  it('loads the same config from YAML and TOML', async () => {
    const y = await load(['full.yaml'], { env: fullEnv });
    const t = await load(['full.toml'], { env: fullEnv });
    expect(lines(y)).toEqual([]);
    expect(lines(t)).toEqual([]);
    expect(t.config!.effective).toEqual(y.config!.effective);
    for (const kind of ['receivers', 'processors', 'exporters'] as const) {
      const yc = Object.fromEntries([...y.config![kind]].map(([id, c]) => [id, c.config]));
      const tc = Object.fromEntries([...t.config![kind]].map(([id, c]) => [id, c.config]));
      expect(tc).toEqual(yc);
    }
    expect([...t.config!.pipelines.values()]).toEqual([...y.config!.pipelines.values()]);
    expect(t.config!.service).toEqual(y.config!.service);
  });

  it('builds typed component configs with defaults, service settings and pipelines', async () => {
    const { config } = await load(['full.yaml'], { env: fullEnv });
    const otlp = config!.receivers.get('otlp')!;
    expect(otlp.id).toEqual({ type: 'otlp', name: '', id: 'otlp' });
    expect(otlp.config).toEqual({
      protocols: { grpc: { endpoint: '127.0.0.1:4317' }, http: { endpoint: '127.0.0.1:4318' } },
      max_request_body_size: 20 * 1024 * 1024,
    });
    expect(config!.receivers.get('statsd/app')!.config).toEqual({ endpoint: '127.0.0.1:8125', transport: 'udp', aggregation_interval: 10_000 });
    expect(config!.receivers.get('statsd/app')!.id).toEqual({ type: 'statsd', name: 'app', id: 'statsd/app' });
    expect(config!.processors.get('batch')!.config).toEqual({ send_batch_size: 8192, send_batch_max_size: 0, timeout: 200 });
    const upstream = config!.exporters.get('otlp_http/upstream')!;
    expect(upstream.factory.type).toBe('otlp_http');
    expect(upstream.raw).toEqual({
      endpoint: 'http://127.0.0.1:14318',
      headers: { Authorization: 'Bearer s3cr3t', 'X-Tenant': 'team-${literal}' },
      sending_queue: { queue_size: 500 },
    });
    expect(config!.exporters.get('debug')!.config).toEqual({ verbosity: 'basic' });
    expect([...config!.pipelines.values()]).toEqual([
      { id: 'metrics', receivers: ['otlp', 'statsd/app'], processors: ['batch'], exporters: ['prometheus', 'debug'] },
      { id: 'metrics/billing', receivers: ['otlp'], processors: ['batch'], exporters: ['otlp_http/upstream'] },
    ]);
    // health_check's endpoint moves the admin endpoint; telemetry.logs.level (any case) sets the log level.
    expect(config!.service).toEqual({ shutdownTimeoutMs: 5000, adminEndpoint: '0.0.0.0:13134', logLevel: 'debug' });
  });

  it('applies defaults for a component without config and for the service', async () => {
    const r = await load([], {
      sets: ['exporters.debug=', 'receivers.statsd=', 'service.pipelines.metrics={receivers: [statsd], exporters: [debug]}'],
    });
    expect(lines(r)).toEqual([]);
    expect(r.config!.exporters.get('debug')!.config).toEqual({ verbosity: 'basic' });
    expect(r.config!.exporters.get('debug')!.raw).toBeNull();
    expect(r.config!.service).toEqual({ shutdownTimeoutMs: 20_000, adminEndpoint: '0.0.0.0:13133', logLevel: 'info' });
    expect(r.config!.pipelines.get('metrics')).toEqual({ id: 'metrics', receivers: ['statsd'], processors: [], exporters: ['debug'] });
  });

  it('accepts the older otelcol exporter name as an alias', async () => {
    const r = await load([], {
      sets: ['exporters.otlphttp.endpoint=https://example.com', 'receivers.statsd=', 'service.pipelines.metrics.receivers=[statsd]', 'service.pipelines.metrics.exporters=[otlphttp]'],
    });
    expect(lines(r)).toEqual([]);
    const e = r.config!.exporters.get('otlphttp')!;
    expect(e.factory.type).toBe('otlp_http');
    expect(e.id).toEqual({ type: 'otlphttp', name: '', id: 'otlphttp' });
  });

  it('reports YAML and TOML syntax errors with line and column', async () => {
    expect(lines(await load(['syntax.yaml']))).toEqual([
      'syntax.yaml:4:1: (root): YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(lines(await load(['syntax.toml']))).toEqual(['syntax.toml:2:22: (root): TOML syntax error: invalid value']);
  });

  it('reports unreadable files and unknown extensions', async () => {
    expect(lines(await load(['nope.yaml', 'full.json']))).toEqual([
      'nope.yaml:1:1: (root): cannot read config file: no such file',
      'full.json:1:1: (root): unknown config format ".json": use .yaml, .yml or .toml',
    ]);
  });
});

describe('loadConfig: env expansion', () => {
  const env = {
    OTLP_HOST: '127.0.0.1',
    BATCH_SIZE: '123',
    UPSTREAM_URL: 'https://collector.example.com',
    ITEM_A: 'apples',
    ITEM_B: 'pears',
    EMPTY: '',
  };

  for (const file of ['env.yaml', 'env.toml']) {
    it(`expands set variables, defaults and $$ (${file})`, async () => {
      const r = await load([file], { env });
      expect(lines(r)).toEqual([]);
      const eff = r.config!.effective as any;
      expect(eff.receivers.otlp.protocols.grpc.endpoint).toBe('127.0.0.1:4317');
      expect(eff.processors.batch.timeout).toBe('200ms');
      expect(eff.exporters.otlp_http.endpoint).toBe('https://collector.example.com');
      // Several references in one string, and $$ as a literal $.
      expect(eff.exporters.otlp_http.headers['X-Price']).toBe('$5 for apples and pears');
      // A default applies only to an unset variable, as in otelcol: an empty one stays empty.
      expect(eff.exporters.otlp_http.headers['X-Empty']).toBe('');
      // A whole-value reference becomes a number where the schema wants one, and stays a string where it wants a string.
      expect(r.config!.processors.get('batch')!.config).toMatchObject({ send_batch_size: 123 });
      expect(eff.processors.batch.send_batch_size).toBe(123);
      expect(eff.exporters.otlp_http.headers['X-Count']).toBe('123');
    });
  }

  it('reports each unset variable without default at its value (YAML)', async () => {
    const r = await load(['env.yaml'], { env: { ITEM_A: 'a' } });
    expect(r.config).toBeUndefined();
    expect(lines(r)).toEqual([
      'env.yaml:5:19: receivers.otlp.protocols.grpc.endpoint: environment variable OTLP_HOST is not set (write ${env:OTLP_HOST:-default} to give a default)',
      'env.yaml:8:22: processors.batch.send_batch_size: environment variable BATCH_SIZE is not set (write ${env:BATCH_SIZE:-default} to give a default)',
      'env.yaml:12:15: exporters.otlp_http.endpoint: environment variable UPSTREAM_URL is not set (write ${env:UPSTREAM_URL:-default} to give a default)',
      'env.yaml:14:16: exporters.otlp_http.headers.X-Price: environment variable ITEM_B is not set (write ${env:ITEM_B:-default} to give a default)',
      'env.yaml:15:16: exporters.otlp_http.headers.X-Count: environment variable BATCH_SIZE is not set (write ${env:BATCH_SIZE:-default} to give a default)',
    ]);
  });

  it('reports each unset variable without default at its value (TOML)', async () => {
    const r = await load(['env.toml'], { env: { ...env, OTLP_HOST: undefined, ITEM_B: undefined } });
    expect(lines(r)).toEqual([
      'env.toml:2:12: receivers.otlp.protocols.grpc.endpoint: environment variable OTLP_HOST is not set (write ${env:OTLP_HOST:-default} to give a default)',
      'env.toml:12:11: exporters.otlp_http.headers.X-Price: environment variable ITEM_B is not set (write ${env:ITEM_B:-default} to give a default)',
    ]);
  });

  it('rejects config sources other than env', async () => {
    const r = await load(['full.yaml'], { env: fullEnv, sets: ['exporters.prometheus.endpoint=${file:/etc/x}'] });
    expect(lines(r, 'error')).toEqual(['--set:1:31: exporters.prometheus.endpoint: unsupported config source "${file:/etc/x}": only ${env:NAME} is supported']);
  });
});

describe('loadConfig: merge and --set', () => {
  for (const override of ['override.yaml', 'override.toml']) {
    it(`deep-merges files in order: maps merge, lists and scalars replace (${override})`, async () => {
      const r = await load(['base.yaml', override]);
      expect(r.config).toBeUndefined();
      // The override's bad value is reported at its own file and line; everything else merged.
      expect(lines(r)).toEqual([
        `base.yaml:9:3: exporters.prometheus: exporter is defined but not used in any pipeline`,
        `${override}:${override.endsWith('yaml') ? '9:23' : '9:13'}: exporters.debug.verbosity: must be one of "basic", "normal", "detailed" (got "loud")`,
      ]);
      const fixed = await load(['base.yaml', override], { sets: ['exporters.debug.verbosity=detailed'] });
      expect(lines(fixed)).toEqual(['base.yaml:9:3: exporters.prometheus: exporter is defined but not used in any pipeline']);
      expect(fixed.config!.effective).toEqual({
        receivers: { otlp: { protocols: { grpc: { endpoint: '127.0.0.1:4317' }, http: { endpoint: '127.0.0.1:14318' } } } },
        processors: { batch: { send_batch_size: 8192, timeout: '1s' } },
        exporters: { prometheus: { endpoint: '0.0.0.0:9464' }, debug: { verbosity: 'detailed' } },
        service: { pipelines: { metrics: { receivers: ['otlp'], processors: ['batch'], exporters: ['debug'] } } },
      });
    });
  }

  it('applies --set last, with component IDs containing / as single keys and YAML-typed values', async () => {
    const r = await load(['full.yaml'], {
      env: fullEnv,
      sets: [
        'exporters.otlp_http/upstream.endpoint=https://other.example.com:4318',
        'processors.batch.send_batch_size=100',
        'service.pipelines.metrics.exporters=[prometheus]',
        'exporters.otlp_http/upstream.headers={X-A: b}',
      ],
    });
    expect(lines(r)).toEqual([`full.yaml:22:3: exporters.debug: exporter is defined but not used in any pipeline`]);
    const eff = r.config!.effective as any;
    expect(eff.exporters['otlp_http/upstream'].endpoint).toBe('https://other.example.com:4318');
    expect(eff.exporters['otlp_http/upstream'].headers).toEqual({ 'X-Tenant': 'team-${literal}', Authorization: 'Bearer s3cr3t', 'X-A': 'b' });
    expect(r.config!.processors.get('batch')!.config).toMatchObject({ send_batch_size: 100, timeout: 200 });
    expect(r.config!.pipelines.get('metrics')!.exporters).toEqual(['prometheus']);
  });

  it('reports --set problems as file --set, line = item number', async () => {
    const r = await load(['full.yaml'], { env: fullEnv, sets: ['processors.batch.timeout=200ms', 'processors.batch.timeout=later', 'receivers..x=1'] });
    expect(lines(r)).toEqual(['--set:3:1: receivers..x: "receivers..x" has an empty key']);
    const r2 = await load(['full.yaml'], { env: fullEnv, sets: ['processors.batch.timeout=200ms', 'processors.batch.timeout=later'] });
    expect(lines(r2)).toEqual([
      '--set:2:26: processors.batch.timeout: invalid duration "later": use a number with a unit (ns, us, ms, s, m, h), e.g. 250ms or 10s',
    ]);
  });
});

describe('loadConfig: positions after merge', () => {
  it('keeps a map at the file that defined it and a leaf at the file that set it last', async () => {
    const r = await load(['base.yaml'], { sets: ['exporters.debug.verbosity=loud', 'exporters.nosuch/x.a=1'] });
    expect(lines(r, 'error')).toEqual([
      '--set:1:27: exporters.debug.verbosity: must be one of "basic", "normal", "detailed" (got "loud")',
      '--set:2:1: exporters.nosuch/x: unknown exporter type "nosuch" (known types: debug, otlp_http, otlphttp, prometheus)',
    ]);
    const r2 = await load(['base.yaml', 'override.yaml'], { sets: ['exporters.debug.verbosity=detailed', 'exporters.debug.extra=1'] });
    expect(lines(r2, 'error')).toEqual(['--set:2:1: exporters.debug.extra: unknown key (known keys: verbosity)']);
    // The debug exporter itself is still located in base.yaml, where it is defined.
    const r3 = await load(['base.yaml', 'override.yaml'], { sets: ['exporters.debug.verbosity=detailed', 'service.pipelines.metrics.exporters=[prometheus]'] });
    expect(lines(r3)).toEqual(['base.yaml:10:3: exporters.debug: exporter is defined but not used in any pipeline']);
  });
});
