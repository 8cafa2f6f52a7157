import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './load.ts';
import { formatIssue } from './model.ts';
import * as registry from '../registry.ts';

const file = (name: string) => fileURLToPath(new URL(`../../config/${name}`, import.meta.url));

// The shipped defaults need the real otlp, statsd, batch and prometheus factories; until all are registered this waits.
const ready =
  registry.knownTypes('receivers').includes('otlp') &&
  registry.knownTypes('receivers').includes('statsd') &&
  registry.knownTypes('processors').includes('batch') &&
  registry.knownTypes('exporters').includes('prometheus');

describe('config/default.yaml and config/default.toml', () => {
  it.skipIf(!ready)('load without error or warning with the real registry and are equal', async () => {
    const y = await loadConfig({ files: [file('default.yaml')], env: {} });
    const t = await loadConfig({ files: [file('default.toml')], env: {} });
    expect(y.issues.map(formatIssue)).toEqual([]);
    expect(t.issues.map(formatIssue)).toEqual([]);
    expect(t.config!.effective).toEqual(y.config!.effective);
    for (const kind of ['receivers', 'processors', 'exporters'] as const) {
      expect([...t.config![kind].keys()]).toEqual([...y.config![kind].keys()]);
      for (const [id, c] of y.config![kind]) expect(t.config![kind].get(id)!.config).toEqual(c.config);
    }
    expect([...t.config!.pipelines.values()]).toEqual([...y.config!.pipelines.values()]);
    expect(y.config!.service).toEqual({ shutdownTimeoutMs: 20_000, adminEndpoint: '0.0.0.0:13133', logLevel: 'info' });
  });
});
