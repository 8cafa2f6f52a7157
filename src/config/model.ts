/**
 * The validated, typed configuration the service builds pipelines from.
 * Produced by `loadConfig` (src/config/load.ts); consumed by the graph
 * (src/service/graph.ts). Pure data: building it opens no socket or file.
 */
import type { ComponentId, ExporterFactory, ProcessorFactory, ReceiverFactory } from '../component.ts';

export interface ComponentConfig<F> {
  id: ComponentId;
  factory: F;
  /** Parsed config with defaults applied (the factory schema's output). */
  config: unknown;
  /** The raw config as written after env expansion; compared on reload to decide what changed. */
  raw: unknown;
}

export interface PipelineConfig {
  /** `metrics` or `metrics/name`. */
  id: string;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

export interface ServiceSettings {
  /** Milliseconds allowed for draining on shutdown (default 20s). */
  shutdownTimeoutMs: number;
  /** Admin endpoint `host:port` (default `0.0.0.0:13133`; `extensions.health_check.endpoint` moves it). */
  adminEndpoint: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
}

export interface TributaryConfig {
  receivers: Map<string, ComponentConfig<ReceiverFactory>>;
  processors: Map<string, ComponentConfig<ProcessorFactory>>;
  exporters: Map<string, ComponentConfig<ExporterFactory>>;
  pipelines: Map<string, PipelineConfig>;
  service: ServiceSettings;
  /** The effective config as a plain object (after merge, --set and env expansion), for print-config and /config; not yet redacted. */
  effective: Record<string, unknown>;
}

/** One validation finding, located in its source. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  /** Dotted key path, e.g. `exporters.otlp_http/upstream.endpoint`. */
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.path}: ${i.message}`;
}
