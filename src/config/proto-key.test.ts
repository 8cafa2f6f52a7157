import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './load.ts';
import { fakeRegistry } from './testdata/fake-registry.ts';

// A key spelled __proto__ must be reported like any unknown key, never swallowed as an object prototype.
describe('__proto__ as a config key', () => {
  it.each([
    ['yaml', 'receivers:\n  statsd:\n    __proto__: { polluted: true }\nexporters:\n  debug:\nservice:\n  pipelines:\n    metrics: { receivers: [statsd], exporters: [debug] }\n'],
    ['toml', '[receivers.statsd.__proto__]\npolluted = true\n[exporters.debug]\n[service.pipelines.metrics]\nreceivers = ["statsd"]\nexporters = ["debug"]\n'],
  ])('is an unknown key in %s', async (ext, text) => {
    const file = join(mkdtempSync(join(tmpdir(), 'proto-key-')), `c.${ext}`);
    writeFileSync(file, text);
    const r = await loadConfig({ files: [file], env: {}, registry: fakeRegistry });
    expect(r.config).toBeUndefined();
    expect(r.issues.some((i) => i.severity === 'error' && i.path.startsWith('receivers.statsd') && /__proto__/.test(i.message + i.path))).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
