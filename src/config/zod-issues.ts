/**
 * Turning zod issues into located config issues with messages an SRE reads
 * at a glance, and parsing with the otelcol rule for env values: a value
 * that was exactly `${env:X}` becomes a number or boolean where the schema
 * wants one.
 */
import type { ZodType, core } from 'zod';
import type { KeyPath } from './positions.ts';
import { isPlainObject } from './positions.ts';
import { pathKey } from './env.ts';

export interface RawIssue {
  path: Array<string | number>;
  message: string;
  /** Which position fits: the key (unknown key), the value (bad value), or the nearest written ancestor (missing key). */
  at: 'key' | 'value';
}

type ZIssue = core.$ZodIssue;

/**
 * `schema.safeParse(raw)`, retried with typed env values where a type
 * mismatch sits on one. Mutates `raw` in place (it is part of the effective
 * config, which should show the typed value too); returns the possibly
 * replaced root.
 */
export function parseWithEnv<T>(
  schema: ZodType<T>,
  raw: unknown,
  base: KeyPath,
  typed: Map<string, unknown>,
): { ok: true; data: T; raw: unknown } | { ok: false; issues: ZIssue[]; raw: unknown } {
  for (let attempt = 0; ; attempt++) {
    const r = schema.safeParse(raw);
    if (r.success) return { ok: true, data: r.data, raw };
    if (typed.size === 0 || attempt >= 3) return { ok: false, issues: r.error.issues, raw };
    let changed = false;
    for (const { path, issue } of flatten(r.error.issues, [])) {
      if (issue.code !== 'invalid_type') continue;
      const t = typed.get(pathKey([...base, ...path]));
      if (t === undefined) continue;
      if (path.length === 0) {
        if (typeof raw === 'string') {
          raw = t;
          changed = true;
        }
      } else if (setStringAt(raw, path, t)) changed = true;
    }
    if (!changed) return { ok: false, issues: r.error.issues, raw };
  }
}

/** Issues with union branches expanded, paths made absolute within the parsed value. */
function flatten(issues: readonly ZIssue[], prefix: Array<string | number>): Array<{ path: Array<string | number>; issue: ZIssue }> {
  const out: Array<{ path: Array<string | number>; issue: ZIssue }> = [];
  for (const issue of issues) {
    const path = [...prefix, ...toPath(issue.path)];
    out.push({ path, issue });
    if (issue.code === 'invalid_union') for (const branch of issue.errors) out.push(...flatten(branch, path));
  }
  return out;
}

function setStringAt(root: unknown, path: Array<string | number>, value: unknown): boolean {
  let node: unknown = root;
  for (const seg of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return false;
    node = (node as Record<string | number, unknown>)[seg];
  }
  const last = path[path.length - 1];
  if (node === null || typeof node !== 'object') return false;
  const obj = node as Record<string | number, unknown>;
  if (typeof obj[last] !== 'string') return false;
  obj[last] = value;
  return true;
}

function toPath(p: readonly PropertyKey[]): Array<string | number> {
  return p.map((s) => (typeof s === 'number' ? s : String(s)));
}

/** Located-ready issues for one failed parse; paths relative to `raw`. */
export function describeIssues(issues: readonly ZIssue[], raw: unknown, schema: ZodType<unknown>): RawIssue[] {
  const out: RawIssue[] = [];
  for (const issue of issues) out.push(...describe(issue, toPath(issue.path), raw, schema));
  return out;
}

function describe(issue: ZIssue, path: Array<string | number>, raw: unknown, schema: ZodType<unknown>): RawIssue[] {
  const present = valueAt(raw, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(schema, path);
      return issue.keys.map((k) => ({ path: [...path, k], message: unknownKeyMessage(k, known), at: 'key' as const }));
    }
    case 'invalid_type':
      if (!present.found) return [{ path, message: `missing required key (${typeName(issue.expected)})`, at: 'value' }];
      return [{ path, message: `expected ${typeName(issue.expected)}, got ${kindOf(present.value)}`, at: 'value' }];
    case 'too_big':
    case 'too_small': {
      const big = issue.code === 'too_big';
      const limit = big ? (issue as core.$ZodIssueTooBig).maximum : (issue as core.$ZodIssueTooSmall).minimum;
      const inclusive = issue.inclusive !== false;
      const op = big ? (inclusive ? '<=' : '<') : inclusive ? '>=' : '>';
      if (issue.origin === 'array' || issue.origin === 'set') {
        return [{ path, message: `must have ${big ? 'at most' : 'at least'} ${String(limit)} item${Number(limit) === 1 ? '' : 's'}`, at: 'value' }];
      }
      if (issue.origin === 'string') return [{ path, message: `must be ${big ? 'at most' : 'at least'} ${String(limit)} characters long`, at: 'value' }];
      return [{ path, message: `must be ${op} ${String(limit)} (got ${String(present.value)})`, at: 'value' }];
    }
    case 'invalid_value':
      return [{ path, message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(present.value) ?? 'nothing'})`, at: 'value' }];
    case 'invalid_union': {
      // Prefer a branch that got past the type check: its message says what is wrong with the value.
      const deeper = issue.errors.find((b) => b.length > 0 && b.every((i) => !(i.code === 'invalid_type' && i.path.length === 0)));
      if (deeper) return deeper.flatMap((i) => describe(i, [...path, ...toPath(i.path)], raw, schema));
      const expected = [...new Set(issue.errors.flat().filter((i) => i.code === 'invalid_type').map((i) => (i as core.$ZodIssueInvalidType).expected))];
      if (expected.length > 0 && present.found) return [{ path, message: `expected ${expected.map(typeName).join(' or ')}, got ${kindOf(present.value)}`, at: 'value' }];
      if (!present.found) return [{ path, message: 'missing required key', at: 'value' }];
      return [{ path, message: issue.message, at: 'value' }];
    }
    default:
      return [{ path, message: issue.message, at: 'value' }];
  }
}

function unknownKeyMessage(key: string, known: string[] | undefined): string {
  if (!known || known.length === 0) return 'unknown key';
  const near = closest(key, known);
  if (near) return `unknown key (did you mean "${near}"?)`;
  return `unknown key (known keys: ${known.join(', ')})`;
}

export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** zod's type names in the words of a config file. */
function typeName(t: string): string {
  if (t === 'object' || t === 'record' || t === 'map') return 'a map';
  if (t === 'array' || t === 'tuple' || t === 'set') return 'a list';
  return t;
}

export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (isPlainObject(v)) return 'a map';
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

function valueAt(root: unknown, path: Array<string | number>): { found: boolean; value?: unknown } {
  let node: unknown = root;
  for (const seg of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, seg)) return { found: false };
    node = (node as Record<string | number, unknown>)[seg];
  }
  return { found: node !== undefined, value: node };
}

/**
 * The keys an object schema accepts at `path`, for "did you mean" hints.
 * Reads zod's definitions; best effort (undefined when the shape is not plain).
 */
export function knownKeys(schema: ZodType<unknown>, path: Array<string | number>): string[] | undefined {
  try {
    let s: unknown = schema;
    for (const seg of path) {
      s = step(unwrap(s), seg);
      if (!s) return undefined;
    }
    const obj = unwrap(s);
    const shape = objectShape(obj);
    return shape ? Object.keys(shape).sort() : undefined;
  } catch {
    return undefined;
  }
}

interface Def {
  type: string;
  innerType?: unknown;
  in?: unknown;
  shape?: Record<string, unknown>;
  element?: unknown;
  valueType?: unknown;
  options?: unknown[];
  getter?: () => unknown;
}

function defOf(s: unknown): Def | undefined {
  return (s as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

function unwrap(s: unknown): unknown {
  for (let i = 0; i < 32; i++) {
    const d = defOf(s);
    if (!d) return s;
    if (d.innerType) s = d.innerType;
    else if (d.type === 'pipe') s = d.in;
    else if (d.type === 'lazy' && d.getter) s = d.getter();
    else return s;
  }
  return s;
}

function objectShape(s: unknown): Record<string, unknown> | undefined {
  const d = defOf(s);
  if (d?.type === 'object') return d.shape;
  if (d?.type === 'union' && d.options) {
    const shapes = d.options.map((o) => objectShape(unwrap(o))).filter((x): x is Record<string, unknown> => !!x);
    if (shapes.length > 0) return Object.assign({}, ...shapes);
  }
  return undefined;
}

function step(s: unknown, seg: string | number): unknown {
  const d = defOf(s);
  if (!d) return undefined;
  if (d.type === 'array') return d.element;
  if (d.type === 'record') return d.valueType;
  const shape = objectShape(s);
  return shape?.[String(seg)];
}
