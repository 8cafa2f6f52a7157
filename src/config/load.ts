/**
 * The config pipeline (CONTRACT §1/§2): read files (YAML or TOML by
 * extension) → merge in order → apply `--set` → expand `${env:…}` →
 * validate against the registered factories. Pure: reads only the given
 * files, opens no socket, starts no timer. Used by `run`, `validate`,
 * `print-config` and live reload alike.
 */
import type { ConfigIssue, TributaryConfig } from './model.ts';
import type { Source } from './positions.ts';
import { isPlainObject } from './positions.ts';
import { SET_FILE, mergeSources, parseSetItem, readSource } from './sources.ts';
import { type Env, expandEnv } from './env.ts';
import { type RegistryLike, validateConfig } from './validate.ts';

export type { RegistryLike } from './validate.ts';
export { redactConfig, toYaml } from './redact.ts';

export interface LoadOptions {
  files: string[];
  /** `key.path=value` overrides, applied after all files. */
  sets?: string[];
  /** Defaults to process.env. */
  env?: Env;
  /** Defaults to src/registry.ts (imported lazily, so tests with fakes load no component code). */
  registry?: RegistryLike;
}

export interface LoadResult {
  /** Undefined when any issue is an error. */
  config?: TributaryConfig;
  /** Errors and warnings, in file order (files as given, then `--set`), then line and column. */
  issues: ConfigIssue[];
}

export async function loadConfig(opts: LoadOptions): Promise<LoadResult> {
  const issues: ConfigIssue[] = [];
  const sources: Source[] = [];
  const sets = opts.sets ?? [];
  if (opts.files.length === 0 && sets.length === 0) {
    issues.push({ file: '(none)', line: 1, col: 1, path: '(root)', message: 'no config file given', severity: 'error' });
  }
  const read = await Promise.all(opts.files.map((f) => readSource(f)));
  for (const [i, r] of read.entries()) {
    issues.push(...r.issues);
    if (!r.source) continue;
    if (r.source.value === null) r.source.value = {};
    if (!isPlainObject(r.source.value)) {
      issues.push({ file: opts.files[i], line: 1, col: 1, path: '(root)', message: 'the top level must be a map (receivers, processors, exporters, service…)', severity: 'error' });
      continue;
    }
    sources.push(r.source);
  }
  sets.forEach((item, i) => {
    const r = parseSetItem(item, i);
    if (r.issue) issues.push(r.issue);
    if (r.source) sources.push(r.source);
  });
  const order = fileOrder(opts.files);
  if (hasErrors(issues) || sources.length === 0) return { issues: sortIssues(issues, order) };

  const merged = mergeSources(sources);
  const expanded = expandEnv(merged, opts.env ?? process.env);
  issues.push(...expanded.issues);

  const registry: RegistryLike = opts.registry ?? (await import('../registry.ts'));
  await preloadNamedTypes(registry, expanded.value);
  const v = validateConfig({ effective: expanded.value as Record<string, unknown>, pos: merged.pos, typed: expanded.typed, envFailures: expanded.failed, registry });
  issues.push(...v.issues);
  const sorted = sortIssues(issues, order);
  return hasErrors(sorted) ? { issues: sorted } : { config: v.config, issues: sorted };
}

/** Load the factories of every component type the config names (IDs are `type` or `type/name`). */
async function preloadNamedTypes(registry: RegistryLike, root: unknown): Promise<void> {
  if (!registry.preload || root === null || typeof root !== 'object') return;
  const sections = ['receivers', 'processors', 'exporters'] as const;
  await Promise.all(
    sections.map((kind) => {
      const section = (root as Record<string, unknown>)[kind];
      const ids = section !== null && typeof section === 'object' ? Object.keys(section) : [];
      return registry.preload!(kind, ids.map((id) => id.split('/')[0]));
    }),
  );
}

function hasErrors(issues: ConfigIssue[]): boolean {
  return issues.some((i) => i.severity === 'error');
}

function fileOrder(files: string[]): Map<string, number> {
  const order = new Map<string, number>();
  files.forEach((f, i) => {
    if (!order.has(f)) order.set(f, i);
  });
  order.set(SET_FILE, files.length);
  return order;
}

function sortIssues(issues: ConfigIssue[], order: Map<string, number>): ConfigIssue[] {
  const seen = new Set<string>();
  const unique = issues.filter((i) => {
    const k = `${i.severity}\u0000${i.file}:${i.line}:${i.col}\u0000${i.path}\u0000${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const rank = (f: string) => order.get(f) ?? order.size;
  // Array.prototype.sort is stable: issues at one position keep the order they were found in.
  return unique.sort((a, b) => rank(a.file) - rank(b.file) || a.line - b.line || a.col - b.col);
}
