/**
 * Name and attribute matching shared by the filter, attributes, sampling and
 * cardinality_limit processors, with otelcol's semantics:
 * - `strict`: exact equality;
 * - `regexp`: the pattern is searched anywhere in the string (unanchored, as
 *   otelcol's filterset/regexp does; write `^…$` to anchor);
 * - `glob`: the whole string must match, `*` any run of characters, `?` one.
 *
 * Matchers are compiled once at create time; per-metric results for names are
 * memoised by the callers that run per batch.
 */
import { z } from 'zod';
import type { AttributeValue, Attributes } from '../../model/metrics.ts';

export type MatchType = 'strict' | 'regexp' | 'glob';

/** `{ key, value }`: value omitted means "the key is present". */
export const attributeMatchSchema = () =>
  z
    .object({
      key: z.string().min(1),
      value: z.union([z.string(), z.number(), z.boolean()]).optional(),
    })
    .strict();

export type AttributeMatch = z.infer<ReturnType<typeof attributeMatchSchema>>;

export type StringPredicate = (s: string) => boolean;

export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(re + '$', 's');
}

/** Compile one pattern; throws on an invalid regexp (callers validate first with `patternError`). */
export function compilePattern(type: MatchType, pattern: string): StringPredicate {
  if (type === 'strict') return (s) => s === pattern;
  const re = type === 'glob' ? globToRegExp(pattern) : new RegExp(pattern);
  return (s) => re.test(s);
}

/** A message when `pattern` cannot compile under `type`, else undefined (for config validation). */
export function patternError(type: MatchType, pattern: string): string | undefined {
  if (type !== 'regexp') return undefined;
  try {
    new RegExp(pattern);
    return undefined;
  } catch (err) {
    return `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`;
  }
}

/** True when `s` matches any of `patterns`; an empty list matches nothing. */
export function compileAnyOf(type: MatchType, patterns: readonly string[]): StringPredicate {
  if (patterns.length === 0) return () => false;
  if (type === 'strict') {
    const set = new Set(patterns);
    return (s) => set.has(s);
  }
  const preds = patterns.map((p) => compilePattern(type, p));
  if (preds.length === 1) return preds[0];
  return (s) => {
    for (const p of preds) if (p(s)) return true;
    return false;
  };
}

/** The string form attribute values are matched on under regexp/glob. */
export function attributeValueString(v: AttributeValue): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

/**
 * True when every listed attribute matches (otelcol: "all expressions in the
 * list"). Strict compares typed values (1 matches the number 1, "1" the
 * string); regexp/glob match the value's string form. An empty list matches.
 */
export function compileAttributesMatcher(type: MatchType, matches: readonly AttributeMatch[]): (attrs: Attributes) => boolean {
  if (matches.length === 0) return () => true;
  const checks = matches.map(({ key, value }): ((attrs: Attributes) => boolean) => {
    if (value === undefined) return (attrs) => attrs[key] !== undefined;
    if (type === 'strict') return (attrs) => attrs[key] === value;
    const pred = compilePattern(type, String(value));
    return (attrs) => {
      const v = attrs[key];
      return v !== undefined && pred(attributeValueString(v));
    };
  });
  return (attrs) => {
    for (const c of checks) if (!c(attrs)) return false;
    return true;
  };
}

/** Validation issues for a list of patterns under a match type, as [path, message]. */
export function patternIssues(path: string, type: MatchType, patterns: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  patterns.forEach((p, i) => {
    const msg = patternError(type, p);
    if (msg) out.push([`${path}[${i}]`, msg]);
  });
  return out;
}

/** A memo for per-metric-name decisions, cleared when it grows past `limit` so a flood of names cannot grow it. */
export class BoundedMemo<V> {
  private readonly map = new Map<string, V>();
  private readonly limit: number;
  constructor(limit = 10_000) {
    this.limit = limit;
  }
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): void {
    if (this.map.size >= this.limit) this.map.clear();
    this.map.set(key, value);
  }
}
