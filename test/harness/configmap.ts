/**
 * A config directory laid out the way the kubelet projects a ConfigMap
 * volume, and updated the way it updates one:
 *
 *   dir/config.yaml -> ..data/config.yaml
 *   dir/..data      -> ..2026_11_22_10_00_00.000000001
 *   dir/..2026_11_22_10_00_00.000000001/config.yaml
 *
 * An update writes a new timestamped directory, points a temporary symlink
 * at it and renames that over `..data` (one atomic step), then removes the
 * old directory. The file the daemon was given never changes inode.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ConfigMapDir {
  dir: string;
  /** The path to give the daemon: `dir/config.yaml`. */
  path: string;
  /** Publish a new version atomically, as the kubelet does. */
  update(text: string): void;
}

export function configMapDir(initial: string, file = 'config.yaml'): ConfigMapDir {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-configmap-'));
  let version = 0;
  let current: string | undefined;
  const publish = (text: string) => {
    version++;
    const stamp = `..2026_11_22_10_00_00.${String(version).padStart(9, '0')}`;
    mkdirSync(join(dir, stamp));
    writeFileSync(join(dir, stamp, file), text);
    symlinkSync(stamp, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    if (current) rmSync(join(dir, current), { recursive: true, force: true });
    current = stamp;
  };
  publish(initial);
  symlinkSync(join('..data', file), join(dir, file));
  return { dir, path: join(dir, file), update: publish };
}
