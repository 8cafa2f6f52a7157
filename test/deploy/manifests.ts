/**
 * Helpers for the deployment tests: render the kustomize overlays with
 * kubectl's built-in kustomize, validate objects against the Kubernetes
 * OpenAPI schemas (kubernetes-models, ajv), and walk pod templates.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

// Plain JSON from YAML: the tests read fields by path, the schemas check types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type K8sObject = Record<string, any>;

export const KUBECTL = process.env.KUBECTL ?? 'kubectl';

/** kubectl's kustomize version ("v5.5.0"), or a clear error naming what to install. */
export function kustomizeVersion(): string {
  const r = spawnSync(KUBECTL, ['version', '--client', '-o', 'json'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) {
    throw new Error(
      `deploy tests need kubectl >= 1.27 (built-in kustomize v5) to render deploy/k8s; ` +
        `"${KUBECTL}" could not run (${r.error?.message ?? r.stderr.trim()}). Install kubectl or set KUBECTL=/path/to/kubectl.`,
    );
  }
  const v = (JSON.parse(r.stdout) as { kustomizeVersion?: string }).kustomizeVersion ?? '';
  if (!/^v[5-9]\./.test(v)) {
    throw new Error(`deploy tests need kubectl's built-in kustomize v5 or newer (labels, components, patches); ${KUBECTL} has "${v || 'none'}"`);
  }
  return v;
}

/** `kubectl kustomize DIR`, offline, parsed into objects. */
export function render(dir: string): K8sObject[] {
  const r = spawnSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (r.error || r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${r.error?.message ?? r.stderr}`);
  return parseYamlDocs(r.stdout, dir);
}

export function parseYamlDocs(text: string, source: string): K8sObject[] {
  const docs = parseAllDocuments(text);
  const out: K8sObject[] = [];
  for (const d of docs) {
    if (!Array.isArray(d) && d.errors.length > 0) throw new Error(`${source}: ${d.errors.map((e) => e.message).join('; ')}`);
    const value = (d as { toJS(): unknown }).toJS();
    if (value !== null && value !== undefined) out.push(value as K8sObject);
  }
  return out;
}

/** Every file under `dir`, recursively, relative paths. */
export function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out;
}

type ModelClass = new (data: never) => { validate(): void };
const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};

/** Schema errors of one object ([] when valid); an unknown apiVersion/kind is an error too. */
export function schemaErrors(obj: K8sObject): string[] {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) return [`no schema known for ${obj.apiVersion} ${obj.kind}; add its model to test/deploy/manifests.ts`];
  try {
    new Model(obj as never).validate();
    return [];
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
}

/**
 * Field names the schemas know. The OpenAPI schemas (like the API server's
 * default decoding) let unknown fields through, so a misspelt field such as
 * `restartpolicy` would validate and then be silently dropped by the
 * cluster. Every field name in a manifest must be one some schema declares
 * (what `kubectl apply --validate=strict` enforces per type). The compiled
 * validators read each declared property as `data.<name>`.
 */
let knownFieldNames: Set<string> | undefined;
export function knownFields(): Set<string> {
  if (knownFieldNames) return knownFieldNames;
  const require = createRequire(import.meta.url);
  const roots = ['kubernetes-models/package.json', '@kubernetes-models/apimachinery/package.json', '@kubernetes-models/prometheus-operator/package.json'];
  const names = new Set<string>();
  for (const pkg of roots) {
    const dir = join(dirname(require.resolve(pkg)), '_schemas');
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.js')) continue;
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/\bdata\.([A-Za-z_$][\w$]*)/g)) names.add(m[1]);
    }
  }
  knownFieldNames = names;
  return names;
}

/** Maps whose keys are user data (labels, ConfigMap files, resource names), not schema fields. */
const FREE_FORM = new Set(['labels', 'annotations', 'data', 'binaryData', 'matchLabels', 'requests', 'limits', 'nodeSelector']);

/** A Service's `selector` is a plain label map, unlike the LabelSelector objects elsewhere. */
function isServiceSelector(key: string, value: unknown): boolean {
  return key === 'selector' && typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string');
}

export function unknownFields(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => unknownFields(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const p = path ? `${path}.${k}` : k;
    if (!knownFields().has(k)) out.push(p);
    if (!FREE_FORM.has(k) && !isServiceSelector(k, v)) out.push(...unknownFields(v, p));
  }
  return out;
}

export interface PodTemplate {
  owner: K8sObject;
  spec: K8sObject;
  labels: Record<string, string>;
}

export function podTemplates(objects: K8sObject[]): PodTemplate[] {
  return objects
    .filter((o) => o.kind === 'Deployment')
    .map((o) => ({ owner: o, spec: o.spec.template.spec, labels: o.spec.template.metadata?.labels ?? {} }));
}

export function allContainers(spec: K8sObject): K8sObject[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}

/** Label selector matching (matchLabels and matchExpressions with In/NotIn/Exists/DoesNotExist). */
export function selects(selector: K8sObject, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** A duration as Tributary writes it (`15s`, `500ms`, `1m`), in seconds. */
export function seconds(d: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

export function portOf(hostPort: string): number {
  return Number(/:(\d+)$/.exec(hostPort)?.[1]);
}

export function hostOf(hostPort: string): string {
  return hostPort.replace(/^[a-z]+:\/\//, '').replace(/:\d+$/, '');
}
