/**
 * A real OpenTelemetry JS SDK "app" for end-to-end tests: a MeterProvider
 * whose reader exports through the SDK's own OTLP exporters (gRPC,
 * HTTP/protobuf or HTTP/JSON). Tests record values, then `flush()` to export.
 */
import { MeterProvider, PeriodicExportingMetricReader, AggregationTemporality, AggregationType, type ViewOptions } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import type { Meter } from '@opentelemetry/api';

export type OtlpProtocol = 'grpc' | 'http/protobuf' | 'http/json';

export interface OtelAppOptions {
  protocol: OtlpProtocol;
  /** `host:port` of the receiver (gRPC or HTTP, per protocol). */
  endpoint: string;
  resource?: Record<string, string | number | boolean>;
  temporality?: 'cumulative' | 'delta';
  /** Instrument names recorded as exponential histograms. */
  exponentialHistograms?: string[];
  /** Explicit bucket boundaries per histogram instrument name. */
  histogramBoundaries?: Record<string, number[]>;
}

export interface OtelApp {
  meter: Meter;
  provider: MeterProvider;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export function createOtelApp(opts: OtelAppOptions): OtelApp {
  const temporalityPreference = opts.temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
  const exporter =
    opts.protocol === 'grpc'
      ? new GrpcExporter({ url: `http://${opts.endpoint}`, temporalityPreference })
      : opts.protocol === 'http/protobuf'
        ? new ProtoExporter({ url: `http://${opts.endpoint}/v1/metrics`, temporalityPreference })
        : new JsonExporter({ url: `http://${opts.endpoint}/v1/metrics`, temporalityPreference });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const views: ViewOptions[] = [
    ...(opts.exponentialHistograms ?? []).map((name) => ({ instrumentName: name, aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM as const } })),
    ...Object.entries(opts.histogramBoundaries ?? {}).map(([name, boundaries]) => ({
      instrumentName: name,
      aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM as const, options: { boundaries } },
    })),
  ];
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'e2e-app', ...opts.resource }),
    readers: [reader],
    views,
  });
  return {
    meter: provider.getMeter('e2e-meter', '1.2.3'),
    provider,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
