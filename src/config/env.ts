/**
 * `${env:NAME}` / `${env:NAME:-default}` expansion inside string values, as
 * otelcol's env provider does it: `$$` is a literal `$`, `${NAME}` means
 * `${env:NAME}`, and a default applies only when the variable is unset (an
 * empty variable stays empty). Unlike otelcol, an unset variable without a
 * default is an error (CONTRACT §2), reported at the value that names it.
 */
import { parse as parseYaml } from 'yaml';
import type { ConfigIssue } from './model.ts';
import type { KeyPath, Source } from './positions.ts';
import { formatPath, isPlainObject, locate } from './positions.ts';
import { setOwn } from './sources.ts';

export type Env = Record<string, string | undefined>;

export interface Expanded {
  value: unknown;
  issues: ConfigIssue[];
  /**
   * Values that were exactly one `${…}` and read as a number or boolean,
   * by path key (see `pathKey`). They stay strings; validation switches to
   * the typed value where a schema wants a number or boolean.
   */
  typed: Map<string, unknown>;
  /** Path keys of values whose expansion failed. */
  failed: Set<string>;
}

export function pathKey(path: KeyPath): string {
  return JSON.stringify(path);
}

export function expandEnv(src: Source, env: Env): Expanded {
  const issues: ConfigIssue[] = [];
  const typed = new Map<string, unknown>();
  const failed = new Set<string>();
  const walk = (v: unknown, path: Array<string | number>): unknown => {
    if (typeof v === 'string') {
      if (!v.includes('$')) return v;
      const r = expandString(v, env);
      for (const message of r.errors) {
        const p = locate(src.pos, path, 'value');
        issues.push({ ...p, path: formatPath(path), message, severity: 'error' });
        failed.add(pathKey(path));
      }
      if (r.whole && r.errors.length === 0) {
        const t = scalarType(r.value);
        if (t !== undefined) typed.set(pathKey(path), t);
      }
      return r.value;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (isPlainObject(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) setOwn(out, k, walk(x, [...path, k]));
      return out;
    }
    return v;
  };
  const value = walk(src.value, []);
  return { value, issues, typed, failed };
}

/** Expand one string; `whole` when it was exactly one `${…}` reference. */
export function expandString(s: string, env: Env): { value: string; errors: string[]; whole: boolean } {
  let out = '';
  const errors: string[] = [];
  let refs = 0;
  let literal = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '$' && s[i + 1] === '$') {
      out += '$';
      literal = true;
      i += 2;
      continue;
    }
    if (c === '$' && s[i + 1] === '{') {
      const end = s.indexOf('}', i + 2);
      if (end >= 0) {
        const r = resolveRef(s.slice(i + 2, end), env);
        if (r.error) errors.push(r.error);
        else out += r.value;
        refs++;
        i = end + 1;
        continue;
      }
    }
    out += c;
    literal = true;
    i++;
  }
  return { value: out, errors, whole: refs === 1 && !literal };
}

function resolveRef(body: string, env: Env): { value?: string; error?: string } {
  let rest = body;
  // A scheme is `word:` not followed by `-` (that is `NAME:-default`).
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):(?!-)/.exec(body);
  if (scheme) {
    if (scheme[1] !== 'env') return { error: `unsupported config source "\${${body}}": only \${env:NAME} is supported` };
    rest = body.slice(scheme[0].length);
  }
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/.exec(rest);
  if (!m) return { error: `invalid environment variable reference "\${${body}}"` };
  const [, name, fallback] = m;
  const v = env[name];
  if (v !== undefined) return { value: v };
  if (fallback !== undefined) return { value: fallback };
  return { error: `environment variable ${name} is not set (write \${env:${name}:-default} to give a default)` };
}

/** "123" → 123, "true" → true, as a YAML scalar reads; undefined when it stays a string. */
function scalarType(s: string): unknown {
  if (s.trim() === '') return undefined;
  try {
    const v = parseYaml(s);
    return typeof v === 'number' || typeof v === 'boolean' ? v : undefined;
  } catch {
    return undefined;
  }
}
