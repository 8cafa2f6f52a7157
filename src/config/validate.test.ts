import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type LoadOptions, type LoadResult } from './load.ts';
import { formatIssue } from './model.ts';
import { fakeRegistry } from './testdata/fake-registry.ts';

const dir = fileURLToPath(new URL('./testdata/', import.meta.url));

function lines(r: LoadResult, severity?: 'error' | 'warning'): string[] {
  return r.issues.filter((i) => !severity || i.severity === severity).map((i) => formatIssue(i).replace(dir, '').replace(/^.*\/(cfg\.(yaml|toml))/, '$1'));
}

/** Write one YAML (or TOML) text to a temp file and load it with the fake registry. */
async function loadText(text: string, opts: Partial<LoadOptions> & { ext?: 'yaml' | 'toml' } = {}): Promise<LoadResult> {
  const d = await mkdtemp(join(tmpdir(), 'tributary-config-'));
  const file = join(d, `cfg.${opts.ext ?? 'yaml'}`);
  await writeFile(file, text);
  return loadConfig({ files: [file], env: {}, registry: fakeRegistry, ...opts });
}

const UNKNOWN_KEY_AND_RANGE = [
  'receivers.otlp.protocols.grpc.endpiont: unknown key (did you mean "endpoint"?)',
  'receivers.statsd.endpoint: must be host:port with a port from 0 to 65535',
  'receivers.statsd.aggregation_interval: invalid duration "10 seconds": use a number with a unit (ns, us, ms, s, m, h), e.g. 250ms or 10s',
  'receivers.kafka: unknown receiver type "kafka" (known types: otlp, statsd)',
  'receivers.bad id/: invalid component ID: must be type or type/name (e.g. otlp or otlp/internal)',
  'processors.batch.send_batch_size: must be >= 0 (got -1)',
  'processors.batch.timeout: invalid duration "soon": use a number with a unit (ns, us, ms, s, m, h), e.g. 250ms or 10s',
  'processors.batch/big.send_batch_max_size: must be greater than or equal to send_batch_size',
  'exporters.prometheus.endpoint: listen address 127.0.0.1:9464 (tcp) is also used by exporters.prometheus/second.endpoint (0.0.0.0:9464)',
  'exporters.prometheus/second.endpoint: listen address 0.0.0.0:9464 (tcp) is also used by exporters.prometheus.endpoint (127.0.0.1:9464)',
  'exporters.otlphttp.endpoint: must be an http:// or https:// URL',
  'exporters.otlphttp.sending_queue.queue_size: must be >= 1 (got 0)',
  'exporters.debug/unused: exporter is defined but not used in any pipeline',
  'extensions.zpages: unsupported extension type "zpages": only health_check is supported (served by the admin endpoint)',
  'recievers: unknown top-level key (did you mean "receivers"?)',
  'service.pipelines.metrics.receivers[2]: receiver "nope" is not defined under receivers',
  'service.pipelines.metrics.exporters[3]: exporter "missing" is not defined under exporters',
  'service.pipelines.traces: only metrics pipelines are supported (Tributary carries no traces)',
  'service.pipelines.metrics/empty.receivers: a pipeline needs at least one receiver',
  'service.pipelines.metrics/empty.exporters: a pipeline needs at least one exporter',
  'service.pipelines.logz/x: invalid pipeline ID: must be metrics or metrics/name',
];

describe('validation reports every error of a file at once', () => {
  it('YAML: every class of error, located, in file order', async () => {
    const r = await loadConfig({ files: [`${dir}errors.yaml`], env: {}, registry: fakeRegistry });
    expect(r.config).toBeUndefined();
    const positions = ['5:9', '7:15', '8:27', '9:3', '10:3', '13:22', '14:14', '17:26', '20:15', '22:15', '24:15', '25:34', '26:3', '28:3', '29:1', '33:33', '35:60', '36:5', '40:18', '41:18', '42:5'];
    expect(lines(r)).toEqual(UNKNOWN_KEY_AND_RANGE.map((m, i) => `errors.yaml:${positions[i]}: ${m}`));
    expect(r.issues.filter((i) => i.severity === 'warning').map((i) => i.path)).toEqual(['exporters.debug/unused']);
  });

  it('TOML: the same errors at their TOML lines and columns', async () => {
    const r = await loadConfig({ files: [`${dir}errors.toml`], env: {}, registry: fakeRegistry });
    const positions = ['3:1', '6:12', '7:24', '9:12', '11:12', '14:29', '14:43', '15:62', '18:12', '21:12', '24:12', '25:28', '27:12', '29:13', '31:2', '34:32', '40:3', '43:20', '48:13', '49:13', '51:20'];
    expect(lines(r)).toEqual(UNKNOWN_KEY_AND_RANGE.map((m, i) => `errors.toml:${positions[i]}: ${m}`));
  });
});

describe('validation rules', () => {
  const pipeline = 'service:\n  pipelines:\n    metrics:\n      receivers: [statsd]\n      exporters: [debug]\n';

  it('warns about unused components and keeps the config valid', async () => {
    const r = await loadText(`receivers:\n  statsd:\n  otlp/spare:\nexporters:\n  debug:\n  prometheus:\nprocessors:\n  batch:\n${pipeline}`);
    expect(r.config).toBeDefined();
    expect(lines(r)).toEqual([
      'cfg.yaml:3:3: receivers.otlp/spare: receiver is defined but not used in any pipeline',
      'cfg.yaml:6:3: exporters.prometheus: exporter is defined but not used in any pipeline',
      'cfg.yaml:8:3: processors.batch: processor is defined but not used in any pipeline',
    ]);
    expect(r.issues.every((i) => i.severity === 'warning')).toBe(true);
    // Defined but unused components are still validated and built.
    expect(r.config!.exporters.get('prometheus')!.config).toEqual({ endpoint: '0.0.0.0:9464' });
  });

  it('points a missing required key at its nearest written ancestor', async () => {
    const r = await loadText(`receivers:\n  statsd:\nexporters:\n  debug:\n  otlp_http:\n    headers: {}\n${pipeline.replace('[debug]', '[debug, otlp_http]')}`);
    expect(lines(r)).toEqual(['cfg.yaml:5:3: exporters.otlp_http.endpoint: missing required key (string)']);
  });

  it('reports type mismatches with what was found', async () => {
    const r = await loadText(`receivers:\n  statsd:\n    endpoint: [a]\n    transport: 7\nexporters:\n  debug: verbose\n${pipeline}`);
    expect(lines(r)).toEqual([
      'cfg.yaml:3:15: receivers.statsd.endpoint: expected string, got a list',
      'cfg.yaml:4:16: receivers.statsd.transport: must be one of "udp", "tcp" (got 7)',
      'cfg.yaml:6:10: exporters.debug: expected a map, got string "verbose"',
    ]);
  });

  it('reports duplicate references, sections of the wrong shape, a missing service', async () => {
    expect(lines(await loadText(`receivers:\n  statsd:\nexporters:\n  debug:\n${pipeline.replace('[debug]', '[debug, debug]')}`))).toEqual([
      'cfg.yaml:9:26: service.pipelines.metrics.exporters[1]: exporter "debug" is listed twice',
    ]);
    expect(lines(await loadText(`receivers: [statsd]\nexporters:\n  debug:\n${pipeline}`))).toEqual([
      'cfg.yaml:1:12: receivers: must be a map of component IDs to their configs',
      'cfg.yaml:7:19: service.pipelines.metrics.receivers[0]: receiver "statsd" is not defined under receivers',
    ]);
    expect(lines(await loadText(`receivers:\n  statsd:\n`))).toEqual([
      'cfg.yaml:1:1: service.pipelines: missing: the config needs at least one pipeline under service.pipelines',
      'cfg.yaml:2:3: receivers.statsd: receiver is defined but not used in any pipeline',
    ]);
    expect(lines(await loadText(`service:\n  pipelines: {}\n`))).toEqual(['cfg.yaml:2:14: service.pipelines: the config needs at least one pipeline (e.g. service.pipelines.metrics)']);
    expect(lines(await loadText(`- a\n`))).toEqual(['cfg.yaml:1:1: (root): the top level must be a map (receivers, processors, exporters, service…)']);
  });

  it('reports two listeners on one address at both places, and only real conflicts', async () => {
    const r = await loadText(
      [
        'receivers:',
        '  otlp:',
        '    protocols:',
        '      grpc: { endpoint: "localhost:4317" }',
        '      http: { endpoint: "0.0.0.0:0" }',
        '  statsd: { endpoint: "127.0.0.1:4317" }', // udp: no conflict with the tcp listener
        '  statsd/tcp: { endpoint: "127.0.0.1:4317", transport: tcp }',
        '  otlp/ephemeral: { protocols: { grpc: { endpoint: "127.0.0.1:0" } } }', // port 0 never conflicts
        'exporters:',
        '  prometheus: { endpoint: "[::]:13133" }', // the default admin endpoint
        'service:',
        '  pipelines:',
        '    metrics:',
        '      receivers: [otlp, statsd, statsd/tcp, otlp/ephemeral]',
        '      exporters: [prometheus]',
      ].join('\n'),
    );
    expect(lines(r)).toEqual([
      'cfg.yaml:4:25: receivers.otlp.protocols.grpc.endpoint: listen address localhost:4317 (tcp) is also used by receivers.statsd/tcp.endpoint (127.0.0.1:4317)',
      'cfg.yaml:7:27: receivers.statsd/tcp.endpoint: listen address 127.0.0.1:4317 (tcp) is also used by receivers.otlp.protocols.grpc.endpoint (localhost:4317)',
      'cfg.yaml:10:27: exporters.prometheus.endpoint: listen address [::]:13133 (tcp) is also used by service.admin.endpoint (0.0.0.0:13133)',
      // The default admin endpoint is written nowhere: reported at its nearest written ancestor, `service`.
      'cfg.yaml:11:1: service.admin.endpoint: listen address 0.0.0.0:13133 (tcp) is also used by exporters.prometheus.endpoint ([::]:13133)',
    ]);
  });

  it('does not check listeners of components no pipeline uses', async () => {
    const r = await loadText(`receivers:\n  statsd:\n  otlp:\n    protocols: { grpc: { endpoint: "127.0.0.1:8125" } }\nexporters:\n  debug:\n  prometheus: { endpoint: "127.0.0.1:8125" }\n${pipeline}`);
    expect(lines(r, 'error')).toEqual([]);
  });
});

describe('service, extensions and telemetry as otelcol writes them', () => {
  const base = 'receivers:\n  statsd:\nexporters:\n  debug:\n';
  const pipelines = '  pipelines:\n    metrics: { receivers: [statsd], exporters: [debug] }\n';

  it('health_check moves the admin endpoint; telemetry sets the log level', async () => {
    const r = await loadText(
      `${base}extensions:\n  health_check:\n    endpoint: 127.0.0.1:8080\n    path: /health\n    check_collector_pipeline: { enabled: false }\nservice:\n  extensions: [health_check]\n  telemetry:\n    logs: { level: warn, encoding: console }\n    metrics: { level: basic, address: "0.0.0.0:8888", readers: [] }\n    resource: { service.name: sidecar }\n  shutdown_timeout: 1m30s\n${pipelines}`,
    );
    // otelcol's own metrics endpoint does not exist here: accepted, with a warning saying where self-metrics are.
    expect(lines(r)).toEqual([
      'cfg.yaml:14:30: service.telemetry.metrics.address: ignored: self-metrics are served on the admin endpoint at /metrics (service.admin.endpoint)',
      'cfg.yaml:14:55: service.telemetry.metrics.readers: ignored: self-metrics are served on the admin endpoint at /metrics (service.admin.endpoint)',
    ]);
    expect(r.config!.service).toEqual({ adminEndpoint: '127.0.0.1:8080', logLevel: 'warn', shutdownTimeoutMs: 90_000 });
  });

  it('service.admin.endpoint sets the admin endpoint; a different health_check endpoint is an error', async () => {
    const ok = await loadText(`${base}service:\n  admin: { endpoint: "127.0.0.1:9000" }\n${pipelines}`);
    expect(ok.config!.service.adminEndpoint).toBe('127.0.0.1:9000');
    const r = await loadText(`${base}extensions:\n  health_check: { endpoint: "127.0.0.1:8080" }\nservice:\n  extensions: [health_check]\n  admin: { endpoint: "127.0.0.1:9000" }\n${pipelines}`);
    expect(lines(r)).toEqual([
      'cfg.yaml:6:29: extensions.health_check.endpoint: conflicts with service.admin.endpoint (127.0.0.1:9000): health_check is served by the admin endpoint',
    ]);
  });

  it('reports bad extension references, unknown service and telemetry keys, bad levels and durations', async () => {
    const r = await loadText(
      `${base}extensions:\n  health_check:\n    port: 1\n  health_check/2:\nservice:\n  extensions: [health_check/2, pprof]\n  telemetry:\n    logs: { level: loud }\n    metrics: { level: everything }\n    tracez: {}\n  shutdown_timeout: forever\n  debug: true\n${pipelines}`,
    );
    expect(lines(r)).toEqual([
      'cfg.yaml:6:3: extensions.health_check: extension is defined but not enabled in service.extensions',
      'cfg.yaml:7:5: extensions.health_check.port: unknown key (known keys: check_collector_pipeline, endpoint, path, response_body)',
      'cfg.yaml:10:32: service.extensions[1]: extension "pprof" is not defined under extensions',
      'cfg.yaml:12:20: service.telemetry.logs.level: invalid log level "loud": use debug, info, warn or error',
      'cfg.yaml:13:23: service.telemetry.metrics.level: must be one of "none", "basic", "normal", "detailed" (got "everything")',
      'cfg.yaml:14:5: service.telemetry.tracez: unknown key (did you mean "traces"?)',
      'cfg.yaml:15:21: service.shutdown_timeout: invalid duration "forever": use a number with a unit (ns, us, ms, s, m, h), e.g. 250ms or 10s',
      'cfg.yaml:16:3: service.debug: unknown key (known keys: admin, extensions, pipelines, shutdown_timeout, telemetry)',
    ]);
  });

  it('warns about an extension that is defined but not enabled', async () => {
    const r = await loadText(`${base}extensions:\n  health_check:\nservice:\n${pipelines}`);
    expect(lines(r)).toEqual(['cfg.yaml:6:3: extensions.health_check: extension is defined but not enabled in service.extensions']);
    expect(r.config!.service.adminEndpoint).toBe('0.0.0.0:13133');
  });
});

describe('env values typed as otelcol does', () => {
  it('turns a whole ${env:X} into a number or boolean only where the schema wants one', async () => {
    const r = await loadText(
      `receivers:\n  statsd:\nexporters:\n  otlp_http:\n    endpoint: http://a:1\n    retry_on_failure: { enabled: "\${env:RETRY}" }\n    headers: { x-n: "\${env:N}" }\n    sending_queue: { queue_size: "\${env:N}" }\nservice:\n  pipelines:\n    metrics: { receivers: [statsd], exporters: [otlp_http] }\n`,
      { env: { RETRY: 'false', N: '0042' } },
    );
    expect(lines(r)).toEqual([]);
    const c = r.config!.exporters.get('otlp_http')!.config as any;
    expect(c.retry_on_failure.enabled).toBe(false);
    expect(c.sending_queue.queue_size).toBe(42);
    expect(c.headers['x-n']).toBe('0042');
  });

  it('a value that is only partly a reference stays a string', async () => {
    const r = await loadText(`receivers:\n  statsd:\nprocessors:\n  batch: { send_batch_size: "\${env:N}0" }\nexporters:\n  debug:\nservice:\n  pipelines:\n    metrics: { receivers: [statsd], processors: [batch], exporters: [debug] }\n`, {
      env: { N: '1' },
    });
    expect(lines(r)).toEqual(['cfg.yaml:4:29: processors.batch.send_batch_size: expected number, got string "10"']);
  });
});
