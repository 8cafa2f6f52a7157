/**
 * Label sets of exposed series. A series is identified by its rendered label
 * body (`a="1",b="2"`, names sorted), which is exactly what a scrape writes,
 * so it is computed once per incoming point and never again at scrape time.
 *
 * Precedence when names collide: `job`/`instance` (from the resource) >
 * `otel_scope_*` > point attributes > resource attributes (with
 * `resource_to_telemetry_conversion`) > `const_labels`. Point attributes that
 * sanitise to the same name are merged, values joined with `;` in the order
 * of their original keys (as the spec asks).
 */
import type { Attributes, AttributeValue, Resource, Scope } from '../../model/metrics.ts';
import { escapeLabelValue, labelName } from './naming.ts';

export type LabelPairs = Array<[string, string]>;

/** An attribute value as a label value (OTel's AsString). */
export function attributeString(v: AttributeValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null) return '';
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  return JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? Buffer.from(x).toString('base64') : x));
}

/** Attributes → sanitised label pairs (colliding names merged with `;`). */
export function attributeLabels(attrs: Attributes, skip?: Set<string>): LabelPairs {
  const keys = Object.keys(attrs);
  if (keys.length === 0) return [];
  if (keys.length > 1) keys.sort();
  const out: LabelPairs = [];
  for (const k of keys) {
    if (skip?.has(k)) continue;
    const name = labelName(k);
    if (name === '') continue;
    const value = attributeString(attrs[k]);
    let merged = false;
    for (const pair of out) {
      if (pair[0] === name) {
        pair[1] = pair[1] + ';' + value;
        merged = true;
        break;
      }
    }
    if (!merged) out.push([name, value]);
  }
  return out;
}

const SERVICE_NAME = 'service.name';
const SERVICE_NAMESPACE = 'service.namespace';
const SERVICE_INSTANCE_ID = 'service.instance.id';
const IDENTIFYING = new Set([SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_INSTANCE_ID]);

/** What every series of one resource and scope carries, worked out once per batch. */
export interface LabelContext {
  /** Highest precedence: job, instance, otel_scope_*. */
  fixed: LabelPairs;
  /** Lower than point attributes: converted resource attributes, then const labels. */
  fallback: LabelPairs;
}

/** `job`/`instance` from the service attributes, per the spec. */
export function resourceIdentity(resource: Resource): LabelPairs {
  const a = resource.attributes;
  const out: LabelPairs = [];
  const name = a[SERVICE_NAME];
  const ns = a[SERVICE_NAMESPACE];
  if (name !== undefined && name !== null && name !== '') {
    out.push(['job', ns !== undefined && ns !== null && ns !== '' ? attributeString(ns) + '/' + attributeString(name) : attributeString(name)]);
  }
  const inst = a[SERVICE_INSTANCE_ID];
  if (inst !== undefined && inst !== null && inst !== '') out.push(['instance', attributeString(inst)]);
  return out;
}

/** The `target_info` label body of a resource, or undefined when it has nothing beyond its identity. */
export function targetInfoBody(resource: Resource): string | undefined {
  const rest = attributeLabels(resource.attributes, IDENTIFYING);
  if (rest.length === 0) return undefined;
  return renderBody(mergeLabels(resourceIdentity(resource), rest, []));
}

export function scopeLabels(scope: Scope): LabelPairs {
  const out: LabelPairs = [];
  if (scope.name !== '') out.push(['otel_scope_name', scope.name]);
  if (scope.version !== '') out.push(['otel_scope_version', scope.version]);
  return out;
}

export function labelContext(resource: Resource, scope: Scope, convertResource: boolean, constLabels: LabelPairs): LabelContext {
  const fixed = resourceIdentity(resource).concat(scopeLabels(scope));
  const fallback = convertResource ? attributeLabels(resource.attributes) : [];
  for (const c of constLabels) if (!fallback.some((f) => f[0] === c[0])) fallback.push(c);
  return { fixed, fallback };
}

/** Merge by precedence: `fixed` over `own` over `fallback`; a fresh array the caller may extend. */
export function mergeLabels(fixed: LabelPairs, own: LabelPairs, fallback: LabelPairs): LabelPairs {
  const out: LabelPairs = fixed.slice();
  for (const p of own) if (!has(out, p[0])) out.push(p);
  for (const p of fallback) if (!has(out, p[0])) out.push(p);
  return out;
}

function has(pairs: LabelPairs, name: string): boolean {
  for (const p of pairs) if (p[0] === name) return true;
  return false;
}

/** `a="1",b="2"` with names sorted; '' for no labels. */
export function renderBody(pairs: LabelPairs): string {
  if (pairs.length === 0) return '';
  if (pairs.length > 1) pairs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  let out = '';
  for (let i = 0; i < pairs.length; i++) {
    if (i > 0) out += ',';
    out += pairs[i][0] + '="' + escapeLabelValue(pairs[i][1]) + '"';
  }
  return out;
}

/**
 * The label body of one point under a context. `reserved` is the label the
 * exposition adds itself (`le` for histograms, `quantile` for summaries): an
 * attribute of that name becomes `exported_<name>`, as Prometheus renames
 * colliding labels, instead of producing a duplicate label that would fail
 * the whole scrape.
 */
export function pointLabelBody(attrs: Attributes, ctx: LabelContext, reserved?: string): string {
  const own = attributeLabels(attrs);
  if (reserved !== undefined) {
    for (const p of own) if (p[0] === reserved) p[0] = 'exported_' + reserved;
  }
  const pairs = mergeLabels(ctx.fixed, own, ctx.fallback);
  if (reserved !== undefined) {
    for (const p of pairs) if (p[0] === reserved) p[0] = 'exported_' + reserved;
  }
  return renderBody(pairs);
}
