/**
 * Backup files of a rotated output, named and pruned as lumberjack (the
 * library behind otelcol's fileexporter) does, so tooling written for one
 * finds the other's files: `data.json` rotates to
 * `data-2026-11-22T19-22-12.123.json` (UTC, or local time with `localtime`).
 */
import { readdir, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

const STAMP_RE = /^(\d{4})-(\d\d)-(\d\d)T(\d\d)-(\d\d)-(\d\d)\.(\d{3})$/;
const DAY_MS = 24 * 60 * 60 * 1000;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `2026-11-22T19-22-12.123`: the time a backup was made, in its name. */
export function formatBackupStamp(ms: number, localtime: boolean): string {
  const d = new Date(ms);
  if (localtime) {
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}-${pad(d.getMinutes())}-${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}-${pad(d.getUTCMinutes())}-${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

export function parseBackupStamp(stamp: string, localtime: boolean): number | undefined {
  const m = STAMP_RE.exec(stamp);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number);
  const t = localtime ? new Date(y, mo - 1, d, h, mi, s, ms).getTime() : Date.UTC(y, mo - 1, d, h, mi, s, ms);
  return Number.isNaN(t) ? undefined : t;
}

function nameParts(path: string): { dir: string; prefix: string; ext: string } {
  const base = basename(path);
  const ext = extname(base);
  return { dir: dirname(path), prefix: base.slice(0, base.length - ext.length) + '-', ext };
}

export function backupPath(path: string, ms: number, localtime: boolean): string {
  const { dir, prefix, ext } = nameParts(path);
  return join(dir, prefix + formatBackupStamp(ms, localtime) + ext);
}

export interface Backup {
  path: string;
  /** Rotation time read back from the name. */
  ms: number;
}

/** Backups of `path` in its directory, newest first. */
export async function listBackups(path: string, localtime: boolean): Promise<Backup[]> {
  const { dir, prefix, ext } = nameParts(path);
  const out: Backup[] = [];
  for (const name of await readdir(dir)) {
    if (!name.startsWith(prefix) || !name.endsWith(ext) || name.length <= prefix.length + ext.length) continue;
    const ms = parseBackupStamp(name.slice(prefix.length, name.length - ext.length), localtime);
    if (ms !== undefined) out.push({ path: join(dir, name), ms });
  }
  return out.sort((a, b) => b.ms - a.ms);
}

/**
 * Delete the backups beyond `maxBackups` (0 keeps any number) and those older
 * than `maxDays` (0 keeps any age). Returns the paths removed.
 */
export async function pruneBackups(path: string, opts: { maxBackups: number; maxDays: number; localtime: boolean }, now = Date.now()): Promise<string[]> {
  const backups = await listBackups(path, opts.localtime);
  const cutoff = opts.maxDays > 0 ? now - opts.maxDays * DAY_MS : -Infinity;
  const doomed = backups.filter((b, i) => (opts.maxBackups > 0 && i >= opts.maxBackups) || b.ms < cutoff);
  for (const b of doomed) {
    try {
      await unlink(b.path);
    } catch (err) {
      // Someone else removed it first: that is the outcome wanted.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return doomed.map((b) => b.path);
}
