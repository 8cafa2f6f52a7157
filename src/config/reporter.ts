/**
 * Collects located issues while validating. Every finding is kept; none
 * stops the others.
 */
import type { ZodType } from 'zod';
import type { ConfigIssue } from './model.ts';
import type { KeyPath, PosNode } from './positions.ts';
import { formatPath, isPlainObject, locate } from './positions.ts';
import { pathKey } from './env.ts';
import { describeIssues, parseWithEnv } from './zod-issues.ts';

/** Drops follow-on errors at values whose env expansion already failed. */
export class Reporter {
  readonly issues: ConfigIssue[] = [];
  private readonly pos: PosNode;
  private readonly mute: Set<string>;

  constructor(pos: PosNode, mute: Set<string>) {
    this.pos = pos;
    this.mute = mute;
  }

  error(path: KeyPath, message: string, at: 'key' | 'value' = 'value'): void {
    this.add(path, message, at, 'error');
  }

  warn(path: KeyPath, message: string, at: 'key' | 'value' = 'key'): void {
    this.add(path, message, at, 'warning');
  }

  get errorCount(): number {
    return this.issues.filter((i) => i.severity === 'error').length;
  }

  /** Parse `raw` at `base` with `schema`; report every zod issue; undefined when invalid. */
  parse<T>(schema: ZodType<T>, raw: unknown, base: KeyPath, typed: Map<string, unknown>): { data: T; raw: unknown } | undefined {
    let r;
    try {
      r = parseWithEnv(schema, raw, base, typed);
    } catch (err) {
      // A factory's schema or transform threw: report it rather than crash the loader.
      this.error(base, `internal error while validating: ${(err as Error).message}`);
      return undefined;
    }
    if (r.ok) return { data: r.data, raw: r.raw };
    for (const i of describeIssues(r.issues, r.raw, schema as ZodType<unknown>)) this.error([...base, ...i.path], i.message, i.at);
    return undefined;
  }

  private add(path: KeyPath, message: string, at: 'key' | 'value', severity: 'error' | 'warning'): void {
    if (severity === 'error' && this.mute.has(pathKey(path))) return;
    const p = locate(this.pos, path, at);
    this.issues.push({ file: p.file, line: p.line, col: p.col, path: formatPath(path), message, severity });
  }
}

/** Entries of a `receivers:`-like map; null or missing is empty. */
export function sectionEntries(root: Record<string, unknown>, key: string, rep: Reporter): Array<[string, unknown]> {
  const section = root[key];
  if (section === undefined || section === null) return [];
  if (!isPlainObject(section)) {
    rep.error([key], `must be a map of component IDs to their configs`);
    return [];
  }
  return Object.entries(section);
}
