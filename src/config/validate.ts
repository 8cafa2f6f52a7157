/**
 * Validation of the merged, expanded config into a TributaryConfig. Every
 * finding is collected, none stops the others (otelcol's confmap/validation
 * reports all failures; so do we), each located at the key it concerns.
 */
import type { ComponentId, ExporterFactory, Factory, ProcessorFactory, ReceiverFactory } from '../component.ts';
import { parseComponentId } from '../component.ts';
import type { ComponentConfig, ConfigIssue, PipelineConfig, ServiceSettings, TributaryConfig } from './model.ts';
import type { KeyPath, PosNode } from './positions.ts';
import { formatPath, isPlainObject, locate } from './positions.ts';
import { pathKey } from './env.ts';
import { DEFAULT_ADMIN_ENDPOINT, TOP_LEVEL_KEYS, healthCheckSchema, pipelineSchema, serviceSchema } from './service-schema.ts';
import { checkListenConflicts, type Listener } from './listeners.ts';
import { closest, describeIssues, parseWithEnv } from './zod-issues.ts';
import type { ZodType } from 'zod';

export type SectionKind = 'receivers' | 'processors' | 'exporters';

/** The registry functions the loader needs; tests inject small fake factories. */
export interface RegistryLike {
  findFactory(kind: SectionKind, type: string): Factory | undefined;
  knownTypes(kind: SectionKind): string[];
}

const SECTIONS: SectionKind[] = ['receivers', 'processors', 'exporters'];
const SINGULAR: Record<SectionKind, string> = { receivers: 'receiver', processors: 'processor', exporters: 'exporter' };

/** Collects issues; drops follow-on errors at values whose env expansion already failed. */
class Reporter {
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

export interface ValidateInput {
  effective: Record<string, unknown>;
  pos: PosNode;
  /** Whole-`${env:X}` values readable as numbers/booleans (see env.ts). */
  typed: Map<string, unknown>;
  /** Paths whose env expansion failed: their follow-on errors would only repeat it. */
  envFailures: Set<string>;
  registry: RegistryLike;
}

export function validateConfig(input: ValidateInput): { config?: TributaryConfig; issues: ConfigIssue[] } {
  const { effective: root, typed, registry } = input;
  const rep = new Reporter(input.pos, input.envFailures);

  for (const key of Object.keys(root)) {
    if ((TOP_LEVEL_KEYS as readonly string[]).includes(key)) continue;
    const hint = key === 'connectors' ? 'connectors are not supported' : unknownHint(key, TOP_LEVEL_KEYS);
    rep.error([key], `unknown top-level key (${hint})`, 'key');
  }

  const components = {
    receivers: new Map<string, ComponentConfig<ReceiverFactory>>(),
    processors: new Map<string, ComponentConfig<ProcessorFactory>>(),
    exporters: new Map<string, ComponentConfig<ExporterFactory>>(),
  };
  const defined: Record<SectionKind, Set<string>> = { receivers: new Set(), processors: new Set(), exporters: new Set() };
  // Components whose ID or type is wrong: already an error, so no "unused" warning on top.
  const unknown = new Set<string>();
  for (const kind of SECTIONS) {
    for (const [id, raw] of sectionEntries(root, kind, rep)) {
      defined[kind].add(id);
      const built = validateComponent(kind, id, raw, root, typed, registry, rep);
      if (built === 'unknown') unknown.add(`${kind}/${id}`);
      else if (built) (components[kind] as Map<string, ComponentConfig<Factory>>).set(id, built);
    }
  }

  const extensions = validateExtensions(root, typed, rep);
  const service = validateService(root, typed, rep, defined, extensions);

  // Defined but never used: a warning, the config stays valid (otelcol ignores them too).
  for (const kind of SECTIONS) {
    for (const id of defined[kind]) {
      if (!service.used[kind].has(id) && !unknown.has(`${kind}/${id}`)) rep.warn([kind, id], `${SINGULAR[kind]} is defined but not used in any pipeline`);
    }
  }

  // Listeners of components that will run, plus the admin endpoint.
  const listeners: Listener[] = [];
  for (const kind of ['receivers', 'exporters'] as const) {
    for (const [id, cc] of components[kind]) {
      if (!service.used[kind].has(id) || !cc.factory.listenAddresses) continue;
      try {
        for (const a of cc.factory.listenAddresses(cc.config)) listeners.push({ ...a, path: [kind, id, ...a.key.split('.').filter(Boolean)] });
      } catch (err) {
        rep.error([kind, id], `internal error while listing listen addresses: ${(err as Error).message}`);
      }
    }
  }
  listeners.push({ key: 'endpoint', transport: 'tcp', address: service.settings.adminEndpoint, path: service.adminPath });
  for (const c of checkListenConflicts(listeners)) rep.error(c.path, c.message);

  if (rep.errorCount > 0) return { issues: rep.issues };
  return {
    issues: rep.issues,
    config: {
      receivers: components.receivers,
      processors: components.processors,
      exporters: components.exporters,
      pipelines: service.pipelines,
      service: service.settings,
      effective: root,
    },
  };
}

function unknownHint(key: string, known: readonly string[]): string {
  const near = closest(key, [...known]);
  return near ? `did you mean "${near}"?` : `known keys: ${known.join(', ')}`;
}

/** Entries of a `receivers:`-like map; null or missing is empty. */
function sectionEntries(root: Record<string, unknown>, key: string, rep: Reporter): Array<[string, unknown]> {
  const section = root[key];
  if (section === undefined || section === null) return [];
  if (!isPlainObject(section)) {
    rep.error([key], `must be a map of component IDs to their configs`);
    return [];
  }
  return Object.entries(section);
}

function validateComponent(
  kind: SectionKind,
  id: string,
  raw: unknown,
  root: Record<string, unknown>,
  typed: Map<string, unknown>,
  registry: RegistryLike,
  rep: Reporter,
): ComponentConfig<Factory> | 'unknown' | undefined {
  const cid = parseComponentId(id);
  if (!cid) {
    rep.error([kind, id], 'invalid component ID: must be type or type/name (e.g. otlp or otlp/internal)', 'key');
    return 'unknown';
  }
  const factory = registry.findFactory(kind, cid.type);
  if (!factory) {
    const known = registry.knownTypes(kind);
    const list = known.length > 0 ? `known types: ${known.join(', ')}` : `no ${SINGULAR[kind]} types are registered`;
    rep.error([kind, id], `unknown ${SINGULAR[kind]} type "${cid.type}" (${list})`, 'key');
    return 'unknown';
  }
  const base = [kind, id];
  // No config (`debug:` alone) means all defaults, as in otelcol.
  const parsed = rep.parse(factory.configSchema, raw ?? {}, base, typed);
  if (!parsed) return undefined;
  if (raw !== null && raw !== undefined && parsed.raw !== raw) (root[kind] as Record<string, unknown>)[id] = parsed.raw;
  let extra: Array<[string, string]> = [];
  try {
    extra = factory.validate?.(parsed.data) ?? [];
  } catch (err) {
    extra = [['', `internal error while validating: ${(err as Error).message}`]];
  }
  for (const [keyPath, message] of extra) rep.error([...base, ...keyPath.split('.').filter(Boolean)], message);
  if (extra.length > 0) return undefined;
  return { id: cid, factory, config: parsed.data, raw: raw ?? null };
}

interface Extensions {
  /** health_check extensions by ID, with their endpoint if given. */
  healthChecks: Map<string, { endpoint?: string }>;
  defined: Set<string>;
  /** IDs already reported as invalid or unsupported. */
  invalid: Set<string>;
}

function validateExtensions(root: Record<string, unknown>, typed: Map<string, unknown>, rep: Reporter): Extensions {
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

interface ServiceResult {
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

function validateService(
  root: Record<string, unknown>,
  typed: Map<string, unknown>,
  rep: Reporter,
  defined: Record<SectionKind, Set<string>>,
  extensions: Extensions,
): ServiceResult {
  const result: ServiceResult = {
    settings: { shutdownTimeoutMs: 20_000, adminEndpoint: DEFAULT_ADMIN_ENDPOINT, logLevel: 'info' },
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
