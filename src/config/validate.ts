/**
 * Validation of the merged, expanded config into a TributaryConfig. Every
 * finding is collected, none stops the others (otelcol's confmap/validation
 * reports all failures; so do we), each located at the key it concerns.
 */
import type { ExporterFactory, Factory, ProcessorFactory, ReceiverFactory } from '../component.ts';
import { parseComponentId } from '../component.ts';
import type { ComponentConfig, ConfigIssue, TributaryConfig } from './model.ts';
import type { PosNode } from './positions.ts';
import { TOP_LEVEL_KEYS } from './service-schema.ts';
import { checkListenConflicts, type Listener } from './listeners.ts';
import { closest } from './zod-issues.ts';
import { Reporter, sectionEntries } from './reporter.ts';
import { type SectionKind, validateExtensions, validateService } from './validate-service.ts';

export type { SectionKind } from './validate-service.ts';

/** The registry functions the loader needs; tests inject small fake factories. */
export interface RegistryLike {
  findFactory(kind: SectionKind, type: string): Factory | undefined;
  knownTypes(kind: SectionKind): string[];
  /** Import the factories of these types before `findFactory` is asked for them (the real registry loads lazily). */
  preload?(kind: SectionKind, types: Iterable<string>): Promise<void>;
}

const SECTIONS: SectionKind[] = ['receivers', 'processors', 'exporters'];
const SINGULAR: Record<SectionKind, string> = { receivers: 'receiver', processors: 'processor', exporters: 'exporter' };

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

