/**
 * otelcol's attribute actions (internal/coreinternal/attraction), shared by
 * the `attributes` (data points) and `resource` processors:
 *
 * - `insert`: set `key` when absent; `update`: set when present; `upsert`:
 *   set either way. The value comes from `value`, `from_attribute` (another
 *   attribute of the same set; nothing happens if it is absent) or
 *   `from_context`: `resource.<key>` (a resource attribute, e.g.
 *   `resource.tenant.id`), `scope.name`, `scope.version` or `metric.name`.
 *   (otelcol's `metadata.*`/`auth.*` client contexts do not exist here.)
 * - `delete`: remove `key`, and every key matching `pattern` if given.
 * - `hash`: replace the value of `key` (and of keys matching `pattern`) by the
 *   lowercase hex SHA-256 of its string form (strings as UTF-8, bytes as is,
 *   numbers and booleans as written), as otelcol does since v0.79.
 * - `extract`: run `pattern` (a regexp with named groups) on the string value
 *   of `key` and upsert each named group that matched as an attribute.
 * - `convert`: turn the value of `key` into `converted_type` int (truncated),
 *   double or string; a value that cannot convert is left alone.
 */
import { createHash } from 'node:crypto';
import { z } from '../../config/types.ts';
import type { AttributeValue, Attributes } from '../../model/metrics.ts';
import { patternError } from '../internal/match.ts';

export const actionSchema = z
  .object({
    key: z.string().min(1).optional(),
    value: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
    from_attribute: z.string().min(1).optional(),
    from_context: z.string().min(1).optional(),
    pattern: z.string().optional(),
    action: z.enum(['insert', 'update', 'upsert', 'delete', 'hash', 'extract', 'convert']),
    converted_type: z.enum(['int', 'double', 'string']).optional(),
  })
  .strict();

export type ActionConfig = z.infer<typeof actionSchema>;

/** Where an action runs: the resource and scope the attribute set belongs to. */
export interface ActionContext {
  resource: Attributes;
  scopeName: string;
  scopeVersion: string;
  metricName: string;
}

export type AttributeAction = (attrs: Attributes, ctx: ActionContext) => void;

const CONTEXT_RE = /^(resource\..+|scope\.name|scope\.version|metric\.name)$/;

export function validateActions(actions: readonly ActionConfig[], path: string): Array<[string, string]> {
  const issues: Array<[string, string]> = [];
  actions.forEach((a, i) => {
    const at = `${path}[${i}]`;
    const sources = [a.value !== undefined, a.from_attribute !== undefined, a.from_context !== undefined].filter(Boolean).length;
    switch (a.action) {
      case 'insert':
      case 'update':
      case 'upsert':
        if (!a.key) issues.push([`${at}.key`, `required for ${a.action}`]);
        if (sources !== 1) issues.push([at, `${a.action} needs exactly one of value, from_attribute, from_context`]);
        if (a.from_context !== undefined && !CONTEXT_RE.test(a.from_context)) {
          issues.push([`${at}.from_context`, 'must be resource.<attribute key>, scope.name, scope.version or metric.name']);
        }
        break;
      case 'delete':
      case 'hash':
        if (!a.key && a.pattern === undefined) issues.push([at, `${a.action} needs key or pattern`]);
        if (sources > 0) issues.push([at, `${a.action} takes no value, from_attribute or from_context`]);
        break;
      case 'extract':
        if (!a.key) issues.push([`${at}.key`, 'required for extract']);
        if (a.pattern === undefined) issues.push([`${at}.pattern`, 'required for extract']);
        else {
          const err = patternError('regexp', a.pattern);
          if (!err && !/\(\?<[A-Za-z_$][\w$]*>/.test(a.pattern)) issues.push([`${at}.pattern`, 'extract needs at least one named group, e.g. (?<version>\\d+)']);
        }
        if (sources > 0) issues.push([at, 'extract takes no value, from_attribute or from_context']);
        break;
      case 'convert':
        if (!a.key) issues.push([`${at}.key`, 'required for convert']);
        if (!a.converted_type) issues.push([`${at}.converted_type`, 'required for convert: int, double or string']);
        break;
    }
    if (a.pattern !== undefined) {
      const err = patternError('regexp', a.pattern);
      if (err) issues.push([`${at}.pattern`, err]);
    }
    if (a.converted_type !== undefined && a.action !== 'convert') issues.push([`${at}.converted_type`, 'only for the convert action']);
  });
  return issues;
}

function contextGetter(spec: string): (ctx: ActionContext) => AttributeValue | undefined {
  if (spec === 'scope.name') return (ctx) => ctx.scopeName;
  if (spec === 'scope.version') return (ctx) => ctx.scopeVersion;
  if (spec === 'metric.name') return (ctx) => ctx.metricName;
  const key = spec.slice('resource.'.length);
  return (ctx) => ctx.resource[key];
}

function hashValue(v: AttributeValue, cache: Map<AttributeValue, string>): string {
  const cached = cache.get(v);
  if (cached !== undefined) return cached;
  const h = createHash('sha256');
  if (v instanceof Uint8Array) h.update(v);
  else h.update(typeof v === 'string' ? v : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  const out = h.digest('hex');
  // Hashing repeats the same few values (user ids, IPs) across points: cache, bounded.
  if (cache.size >= 10_000) cache.clear();
  if (!(v instanceof Uint8Array)) cache.set(v, out);
  return out;
}

function convert(v: AttributeValue, to: 'int' | 'double' | 'string'): AttributeValue | undefined {
  if (to === 'string') return typeof v === 'string' ? v : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'boolean') n = v ? 1 : 0;
  else if (typeof v === 'string' && v.trim() !== '') n = Number(v.trim());
  else return undefined;
  if (!Number.isFinite(n)) return undefined;
  return to === 'int' ? Math.trunc(n) : n;
}

export function compileAction(a: ActionConfig): AttributeAction {
  const key = a.key ?? '';
  const pattern = a.pattern === undefined ? undefined : new RegExp(a.pattern);
  const source =
    a.value !== undefined
      ? () => a.value as AttributeValue
      : a.from_attribute !== undefined
        ? ((from: string) => (attrs: Attributes) => attrs[from])(a.from_attribute)
        : a.from_context !== undefined
          ? ((get: (ctx: ActionContext) => AttributeValue | undefined) => (_: Attributes, ctx: ActionContext) => get(ctx))(contextGetter(a.from_context))
          : () => undefined;
  switch (a.action) {
    case 'insert':
      return (attrs, ctx) => {
        if (attrs[key] !== undefined) return;
        const v = source(attrs, ctx);
        if (v !== undefined) attrs[key] = v;
      };
    case 'update':
      return (attrs, ctx) => {
        if (attrs[key] === undefined) return;
        const v = source(attrs, ctx);
        if (v !== undefined) attrs[key] = v;
      };
    case 'upsert':
      return (attrs, ctx) => {
        const v = source(attrs, ctx);
        if (v !== undefined) attrs[key] = v;
      };
    case 'delete':
      return (attrs) => {
        if (key) delete attrs[key];
        if (pattern) for (const k of Object.keys(attrs)) if (pattern.test(k)) delete attrs[k];
      };
    case 'hash': {
      const cache = new Map<AttributeValue, string>();
      return (attrs) => {
        if (key && attrs[key] !== undefined) attrs[key] = hashValue(attrs[key], cache);
        if (pattern) for (const k of Object.keys(attrs)) if (k !== key && pattern.test(k)) attrs[k] = hashValue(attrs[k], cache);
      };
    }
    case 'extract':
      return (attrs) => {
        const v = attrs[key];
        if (typeof v !== 'string') return;
        const m = pattern!.exec(v);
        if (!m?.groups) return;
        for (const g in m.groups) if (m.groups[g] !== undefined) attrs[g] = m.groups[g];
      };
    case 'convert': {
      const to = a.converted_type!;
      return (attrs) => {
        const v = attrs[key];
        if (v === undefined) return;
        const out = convert(v, to);
        if (out !== undefined) attrs[key] = out;
      };
    }
  }
}

/** All actions in order, as one function. */
export function compileActions(actions: readonly ActionConfig[]): AttributeAction {
  const fns = actions.map(compileAction);
  if (fns.length === 1) return fns[0];
  return (attrs, ctx) => {
    for (let i = 0; i < fns.length; i++) fns[i](attrs, ctx);
  };
}

/** True when applying the actions twice to the same set differs from once (hash), so shared sets must be processed once. */
export function hasNonIdempotentAction(actions: readonly ActionConfig[]): boolean {
  return actions.some((a) => a.action === 'hash');
}
