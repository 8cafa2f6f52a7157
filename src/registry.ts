/**
 * Every component type Tributary knows, by kind. Adding a component means
 * adding its factory here, nothing else.
 */
import type { ExporterFactory, Factory, ProcessorFactory, ReceiverFactory } from './component.ts';
import { batchProcessorFactory } from './processors/batch/factory.ts';
import { prometheusExporterFactory } from './exporters/prometheus/factory.ts';
import { debugExporterFactory } from './exporters/debug/factory.ts';
import { datadogExporterFactory } from './exporters/datadog/factory.ts';
import { cloudwatchExporterFactory } from './exporters/cloudwatch/factory.ts';
import { otlpGrpcExporterFactory } from './exporters/otlp_grpc/factory.ts';
import { otlpHttpExporterFactory } from './exporters/otlp_http/factory.ts';
import { prometheusRemoteWriteExporterFactory } from './exporters/prometheusremotewrite/factory.ts';
import { statsdReceiverFactory } from './receivers/statsd/factory.ts';
import { otlpReceiverFactory } from './receivers/otlp/factory.ts';
import { samplingProcessorFactory } from './processors/sampling/factory.ts';
import { memoryLimiterProcessorFactory } from './processors/memory_limiter/factory.ts';
import { filterProcessorFactory } from './processors/filter/factory.ts';
import { attributesProcessorFactory } from './processors/attributes/factory.ts';
import { resourceProcessorFactory } from './processors/resource/factory.ts';
import { cardinalityLimitProcessorFactory } from './processors/cardinality_limit/factory.ts';
import { postgresExporterFactory } from './exporters/postgres/factory.ts';

export const receiverFactories: ReceiverFactory[] = [
  otlpReceiverFactory,
  statsdReceiverFactory,
];

export const processorFactories: ProcessorFactory[] = [
  samplingProcessorFactory,
  memoryLimiterProcessorFactory,
  filterProcessorFactory,
  attributesProcessorFactory,
  resourceProcessorFactory,
  cardinalityLimitProcessorFactory,
  batchProcessorFactory,
];

export const exporterFactories: ExporterFactory[] = [
  prometheusExporterFactory,
  debugExporterFactory,
  datadogExporterFactory,
  cloudwatchExporterFactory,
  prometheusRemoteWriteExporterFactory,
  otlpGrpcExporterFactory,
  otlpHttpExporterFactory,
  postgresExporterFactory,
];

/** Older otelcol names still accepted (CONTRACT §3). */
export const exporterAliases: Record<string, string> = {
  otlp: 'otlp_grpc',
  otlphttp: 'otlp_http',
};

export function findFactory(kind: 'receivers' | 'processors' | 'exporters', type: string): Factory | undefined {
  if (kind === 'receivers') return receiverFactories.find((f) => f.type === type);
  if (kind === 'processors') return processorFactories.find((f) => f.type === type);
  const resolved = exporterAliases[type] ?? type;
  return exporterFactories.find((f) => f.type === resolved);
}

export function knownTypes(kind: 'receivers' | 'processors' | 'exporters'): string[] {
  const list = kind === 'receivers' ? receiverFactories : kind === 'processors' ? processorFactories : exporterFactories;
  const names = list.map((f) => f.type);
  if (kind === 'exporters') for (const [alias, target] of Object.entries(exporterAliases)) if (names.includes(target)) names.push(alias);
  return names.sort();
}
