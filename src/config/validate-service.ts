/**
 * Validation of `service` (pipelines, settings, enabled extensions) and of
 * `extensions`, where only health_check exists: it is served by the admin
 * endpoint, and its endpoint, when given, moves that endpoint.
 */
import type { ComponentId } from '../component.ts';
import { parseComponentId } from '../component.ts';
import type { PipelineConfig, ServiceSettings } from './model.ts';
import type { KeyPath } from './positions.ts';
import { isPlainObject } from './positions.ts';
import { DEFAULT_ADMIN_ENDPOINT, DEFAULT_SHUTDOWN_TIMEOUT_MS, healthCheckSchema, pipelineSchema, serviceSchema } from './service-schema.ts';
import { type Reporter, sectionEntries } from './reporter.ts';

export type { SectionKind } from '../registry.ts';
import type { SectionKind } from '../registry.ts';

export interface Extensions {
  /** health_check extensions by ID, with their endpoint if given. */
  healthChecks: Map<string, { endpoint?: string }>;
  defined: Set<string>;
  /** IDs already reported as invalid or unsupported. */
  invalid: Set<string>;
}

export function validateExtensions(root: Record<string, unknown>, typed: Map<string, unknown>, rep: Reporter): Extensions {
  const out: Extensions = { healthChecks: new Map(), defined: new Set(), invalid: new Set() };
  for (const [id, raw] of sectionEntries(root, 'extensions', rep)) {
    out.defined.add(id);
    const cid = parseComponentId(id);
    if (!cid) {
      rep.error(['extensions', id], 'invalid extension ID: must be type or type/name', 'key');
      out.invalid.add(id);
      continue;
    }
    if (cid.type !== 'health_check') {
      rep.error(['extensions', id], `unsupported extension type "${cid.type}": only health_check is supported (served by the admin endpoint)`, 'key');
      out.invalid.add(id);
      continue;
    }
    const parsed = rep.parse(healthCheckSchema, raw ?? {}, ['extensions', id], typed);
    if (parsed) out.healthChecks.set(id, { endpoint: parsed.data.endpoint });
  }
  return out;
}

export interface ServiceResult {
  settings: ServiceSettings;
  pipelines: Map<string, PipelineConfig>;
  used: Record<SectionKind, Set<string>>;
  /** Where the admin endpoint is configured (or would be), for listener conflicts. */
  adminPath: KeyPath;
}

const LIST_KINDS = [
  ['receivers', 'receiver'],
  ['processors', 'processor'],
  ['exporters', 'exporter'],
] as const;

export function validateService(
  root: Record<string, unknown>,
  typed: Map<string, unknown>,
  rep: Reporter,
  defined: Record<SectionKind, Set<string>>,
  extensions: Extensions,
): ServiceResult {
  const result: ServiceResult = {
    settings: { shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS, adminEndpoint: DEFAULT_ADMIN_ENDPOINT, logLevel: 'info' },
    pipelines: new Map(),
    used: { receivers: new Set(), processors: new Set(), exporters: new Set() },
    adminPath: ['service', 'admin', 'endpoint'],
  };
  const raw = root.service;
  if (raw === undefined || raw === null) {
    rep.error(['service', 'pipelines'], 'missing: the config needs at least one pipeline under service.pipelines');
    return result;
  }
  if (!isPlainObject(raw)) {
    rep.error(['service'], 'must be a map');
    return result;
  }
  const parsed = rep.parse(serviceSchema, raw, ['service'], typed);
  if (parsed) {
    const s = parsed.data;
    result.settings.shutdownTimeoutMs = s.shutdown_timeout;
    if (s.telemetry?.logs?.level) result.settings.logLevel = s.telemetry.logs.level;
    if (s.admin?.endpoint) result.settings.adminEndpoint = s.admin.endpoint;
    // otelcol serves its own metrics where telemetry.metrics says (:8888 by default); Tributary
    // serves them on the admin endpoint only. Accepted, so otelcol configs load, but said out loud.
    const m = s.telemetry?.metrics;
    if (m?.address !== undefined) rep.warn(['service', 'telemetry', 'metrics', 'address'], 'ignored: self-metrics are served on the admin endpoint at /metrics (service.admin.endpoint)');
    if (m?.readers !== undefined) rep.warn(['service', 'telemetry', 'metrics', 'readers'], 'ignored: self-metrics are served on the admin endpoint at /metrics (service.admin.endpoint)');
  }

  validatePipelines(raw.pipelines, rep, defined, result);

  // service.extensions enables extensions; health_check's endpoint moves the admin endpoint.
  // Read from the raw list too, so a bad key elsewhere in service does not hide reference errors here.
  const enabled = parsed?.data.extensions ?? (Array.isArray(raw.extensions) ? raw.extensions.filter((e): e is string => typeof e === 'string') : []);
  const adminExplicit = parsed?.data.admin?.endpoint;
  let healthCheckSeen: string | undefined;
  enabled.forEach((id, i) => {
    const path = ['service', 'extensions', i];
    if (!extensions.defined.has(id)) {
      rep.error(path, `extension "${id}" is not defined under extensions`);
      return;
    }
    const hc = extensions.healthChecks.get(id);
    if (!hc) return;
    if (healthCheckSeen !== undefined) {
      rep.error(path, `only one health_check extension can be enabled (already ${healthCheckSeen}): the admin endpoint serves it`);
      return;
    }
    healthCheckSeen = id;
    if (!hc.endpoint) return;
    if (adminExplicit !== undefined && adminExplicit !== hc.endpoint) {
      rep.error(['extensions', id, 'endpoint'], `conflicts with service.admin.endpoint (${adminExplicit}): health_check is served by the admin endpoint`);
      return;
    }
    if (adminExplicit === undefined) {
      result.settings.adminEndpoint = hc.endpoint;
      result.adminPath = ['extensions', id, 'endpoint'];
    }
  });
  for (const id of extensions.defined) {
    if (!enabled.includes(id) && !extensions.invalid.has(id)) rep.warn(['extensions', id], 'extension is defined but not enabled in service.extensions');
  }
  return result;
}

function validatePipelines(raw: unknown, rep: Reporter, defined: Record<SectionKind, Set<string>>, result: ServiceResult): void {
  if (raw === undefined || raw === null || (isPlainObject(raw) && Object.keys(raw).length === 0)) {
    rep.error(['service', 'pipelines'], 'the config needs at least one pipeline (e.g. service.pipelines.metrics)');
    return;
  }
  if (!isPlainObject(raw)) {
    rep.error(['service', 'pipelines'], 'must be a map of pipeline IDs to pipelines');
    return;
  }
  for (const [pid, praw] of Object.entries(raw)) {
    const base = ['service', 'pipelines', pid];
    const cid: ComponentId | undefined = parseComponentId(pid);
    let idOk = false;
    if (!cid) rep.error(base, 'invalid pipeline ID: must be metrics or metrics/name', 'key');
    else if (cid.type === 'traces' || cid.type === 'logs' || cid.type === 'profiles') {
      rep.error(base, `only metrics pipelines are supported (Tributary carries no ${cid.type})`, 'key');
    } else if (cid.type !== 'metrics') rep.error(base, 'invalid pipeline ID: must be metrics or metrics/name', 'key');
    else idOk = true;

    const parsed = rep.parse(pipelineSchema, praw ?? {}, base, new Map());
    if (!parsed) continue;
    const lists = { receivers: parsed.data.receivers ?? [], processors: parsed.data.processors ?? [], exporters: parsed.data.exporters ?? [] };
    // References count as uses even in a rejected pipeline: one error is enough, no unused warnings on top.
    for (const [kind] of LIST_KINDS) for (const ref of lists[kind]) result.used[kind].add(ref);
    if (!idOk) continue;

    let ok = true;
    if (lists.receivers.length === 0) {
      rep.error([...base, 'receivers'], 'a pipeline needs at least one receiver');
      ok = false;
    }
    if (lists.exporters.length === 0) {
      rep.error([...base, 'exporters'], 'a pipeline needs at least one exporter');
      ok = false;
    }
    for (const [kind, singular] of LIST_KINDS) {
      const seen = new Set<string>();
      lists[kind].forEach((ref, i) => {
        if (!defined[kind].has(ref)) {
          rep.error([...base, kind, i], `${singular} "${ref}" is not defined under ${kind}`);
          ok = false;
        } else if (seen.has(ref)) {
          rep.error([...base, kind, i], `${singular} "${ref}" is listed twice`);
          ok = false;
        }
        seen.add(ref);
      });
    }
    if (ok) result.pipelines.set(pid, { id: pid, ...lists });
  }
}
