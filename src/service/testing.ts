/** Helpers for the service's tests: configs loaded the way the daemon loads them. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type RegistryLike } from '../config/load.ts';
import type { TributaryConfig } from '../config/model.ts';

/**
 * A loader of YAML configs: each is written to a new file of one temporary
 * folder (named after `prefix`) and loaded with `registry` (default: the
 * daemon's); an invalid config throws its issues.
 */
export function configLoader(prefix: string, registry?: RegistryLike): (yaml: string) => Promise<TributaryConfig> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  let fileNo = 0;
  return async (yaml) => {
    const file = join(dir, `config-${fileNo++}.yaml`);
    writeFileSync(file, yaml);
    const loaded = await loadConfig({ files: [file], env: {}, registry });
    if (!loaded.config) throw new Error(loaded.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
    return loaded.config;
  };
}
