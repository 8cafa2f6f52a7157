/**
 * Every component type Tributary knows, by kind. Adding a component means
 * adding one line here, nothing else.
 *
 * Factories are imported on demand: a sidecar that runs `otlp → batch →
 * prometheus` never loads the AWS SDK, pg, LMDB or the Datadog encoder. That
 * keeps start-up fast and idle memory low (each of those costs megabytes of
 * RSS once imported). The config loader calls `preload` with the types a
 * config names before validating it; after that, lookups are synchronous.
 */
import type { ExporterFactory, Factory, ProcessorFactory, ReceiverFactory } from './component.ts';

export type SectionKind = 'receivers' | 'processors' | 'exporters';

type Loader<F> = () => Promise<F>;

const receivers: Record<string, Loader<ReceiverFactory>> = {
  otlp: async () => (await import('./receivers/otlp/factory.ts')).otlpReceiverFactory,
  statsd: async () => (await import('./receivers/statsd/factory.ts')).statsdReceiverFactory,
};

const processors: Record<string, Loader<ProcessorFactory>> = {
  batch: async () => (await import('./processors/batch/factory.ts')).batchProcessorFactory,
  memory_limiter: async () => (await import('./processors/memory_limiter/factory.ts')).memoryLimiterProcessorFactory,
  sampling: async () => (await import('./processors/sampling/factory.ts')).samplingProcessorFactory,
  filter: async () => (await import('./processors/filter/factory.ts')).filterProcessorFactory,
  attributes: async () => (await import('./processors/attributes/factory.ts')).attributesProcessorFactory,
  resource: async () => (await import('./processors/resource/factory.ts')).resourceProcessorFactory,
  cardinality_limit: async () => (await import('./processors/cardinality_limit/factory.ts')).cardinalityLimitProcessorFactory,
};

const exporters: Record<string, Loader<ExporterFactory>> = {
  prometheus: async () => (await import('./exporters/prometheus/factory.ts')).prometheusExporterFactory,
  prometheusremotewrite: async () => (await import('./exporters/prometheusremotewrite/factory.ts')).prometheusRemoteWriteExporterFactory,
  otlp_grpc: async () => (await import('./exporters/otlp_grpc/factory.ts')).otlpGrpcExporterFactory,
  otlp_http: async () => (await import('./exporters/otlp_http/factory.ts')).otlpHttpExporterFactory,
  datadog: async () => (await import('./exporters/datadog/factory.ts')).datadogExporterFactory,
  cloudwatch: async () => (await import('./exporters/cloudwatch/factory.ts')).cloudwatchExporterFactory,
  postgres: async () => (await import('./exporters/postgres/factory.ts')).postgresExporterFactory,
  debug: async () => (await import('./exporters/debug/factory.ts')).debugExporterFactory,
  file: async () => (await import('./exporters/file/factory.ts')).fileExporterFactory,
};

/** Older otelcol names still accepted (CONTRACT §3). */
export const exporterAliases: Record<string, string> = {
  otlp: 'otlp_grpc',
  otlphttp: 'otlp_http',
};

const loaders: Record<SectionKind, Record<string, Loader<Factory>>> = { receivers, processors, exporters };
const loaded: Record<SectionKind, Map<string, Factory>> = { receivers: new Map(), processors: new Map(), exporters: new Map() };

function canonical(kind: SectionKind, type: string): string {
  return kind === 'exporters' ? (exporterAliases[type] ?? type) : type;
}

/** Import the factories of these types (unknown types are ignored: validation reports them). */
export async function preload(kind: SectionKind, types: Iterable<string>): Promise<void> {
  const wanted = [...new Set([...types].map((t) => canonical(kind, t)))].filter((t) => Object.hasOwn(loaders[kind], t) && !loaded[kind].has(t));
  const factories = await Promise.all(wanted.map((t) => loaders[kind][t]()));
  wanted.forEach((t, i) => loaded[kind].set(t, factories[i]));
}

/** A factory already loaded by `preload`; undefined for unknown (or not yet loaded) types. */
export function findFactory(kind: SectionKind, type: string): Factory | undefined {
  return loaded[kind].get(canonical(kind, type));
}

export function knownTypes(kind: SectionKind): string[] {
  const names = Object.keys(loaders[kind]);
  if (kind === 'exporters') for (const alias of Object.keys(exporterAliases)) names.push(alias);
  return names.sort();
}
