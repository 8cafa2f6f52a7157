/**
 * The command line as a user runs it (CONTRACT §1): validate, print-config,
 * --version/--help, exit codes, a failed start naming its component, and
 * SIGTERM/SIGHUP behaviour of `run`.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REPO_ROOT, startDaemon, freePort, eventually } from './harness/daemon.ts';

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeTemp(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-cli-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('tributary CLI', () => {
  it('prints its version and help', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    const v = cli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(`tributary ${pkg.version}`);
    for (const args of [['--help'], ['-h'], ['help']]) {
      const h = cli(args);
      expect(h.code).toBe(0);
      expect(h.stdout).toContain('validate');
      expect(h.stdout).toContain('print-config');
    }
  });

  it('exits 2 on a bad command line', () => {
    expect(cli(['frobnicate', '--config', 'x.yaml']).code).toBe(2);
    expect(cli(['--no-such-flag']).code).toBe(2);
    expect(cli(['validate']).code).toBe(2);
  });

  it('validates the default configs', () => {
    for (const f of ['config/default.yaml', 'config/default.toml']) {
      const r = cli(['validate', '--config', f]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('config OK\n');
      expect(r.code).toBe(0);
    }
  });

  it('reports every error of a bad config with file, line and column', () => {
    const file = writeTemp(
      'bad.yaml',
      [
        'receivers:',
        '  otlp:',
        '    protocols:',
        '      http:',
        '        endpoint: 127.0.0.1:4318',
        '  nosuch: {}',
        'processors:',
        '  batch:',
        '    timeout: 10parsecs',
        'exporters:',
        '  prometheus:',
        '    endpoint: 0.0.0.0:9464',
        '    bogus_key: 1',
        'service:',
        '  pipelines:',
        '    metrics:',
        '      receivers: [otlp]',
        '      processors: [batch]',
        '      exporters: [prometheus, missing]',
        '',
      ].join('\n'),
    );
    const r = cli(['validate', '--config', file]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines.some((l) => l.startsWith(`${file}:6:3: receivers.nosuch:`) && l.includes('unknown'))).toBe(true);
    expect(lines.some((l) => l.startsWith(`${file}:9:`) && l.includes('processors.batch.timeout'))).toBe(true);
    expect(lines.some((l) => l.startsWith(`${file}:13:`) && l.includes('exporters.prometheus') && l.includes('bogus_key'))).toBe(true);
    expect(lines.some((l) => l.startsWith(`${file}:19:`) && l.includes('missing'))).toBe(true);
  });

  it('prints the effective config with env expanded, --set applied and secrets redacted', () => {
    const file = writeTemp(
      'c.yaml',
      `receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:\${env:E2E_PORT:-4318}" }
exporters:
  otlp_http/up:
    endpoint: http://127.0.0.1:14318
    headers: { x-api-key: "\${env:E2E_SECRET}" }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [otlp_http/up] }
`,
    );
    const r = cli(['print-config', '--config', file, '--set', 'exporters.otlp_http/up.timeout=3s'], { E2E_PORT: '5318', E2E_SECRET: 'hunter2' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('127.0.0.1:5318');
    expect(r.stdout).toContain('timeout: 3s');
    expect(r.stdout).toContain('[REDACTED]');
    expect(r.stdout).not.toContain('hunter2');
  });

  it('fails to start with exit 1 and names the component when its port is taken', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    try {
      const promPort = await freePort();
      const d = await startDaemon({
        waitReady: false,
        config: `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${port} } } }
exporters:
  prometheus: { endpoint: 127.0.0.1:${promPort} }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus] }
`,
      });
      const code = await d.exited;
      expect(code).toBe(1);
      expect(d.logs()).toContain('receivers::otlp');
      expect(d.logs()).toContain('address already in use');
    } finally {
      blocker.close();
    }
  });
});

describe('tributary run lifecycle', () => {
  it('reloads on SIGHUP, keeps running on an invalid config, and drains on SIGTERM with exit 0', async () => {
    const [httpPort, promPort] = await Promise.all([freePort(), freePort()]);
    const config = (timeout: string) => `
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${httpPort} } } }
processors:
  batch: { timeout: ${timeout} }
exporters:
  prometheus: { endpoint: 127.0.0.1:${promPort} }
service:
  pipelines:
    metrics: { receivers: [otlp], processors: [batch], exporters: [prometheus] }
`;
    const d = await startDaemon({ config: config('100ms') });
    try {
      writeFileSync(d.configPath, 'receivers: [this is not valid');
      d.process.kill('SIGHUP');
      const failures = await eventually(async () => d.selfMetric('tributary_config_reloads_total', { result: 'failure' }));
      expect(failures).toBeGreaterThanOrEqual(1);
      expect((await fetch(`${d.adminUrl}/readyz`)).status).toBe(200);

      writeFileSync(d.configPath, config('150ms'));
      d.process.kill('SIGHUP');
      const ok = await eventually(async () => d.selfMetric('tributary_config_reloads_total', { result: 'success' }));
      expect(ok).toBeGreaterThanOrEqual(1);
      expect((await fetch(`${d.adminUrl}/readyz`)).status).toBe(200);
    } finally {
      expect(await d.stop('SIGTERM')).toBe(0);
    }
  });
});
