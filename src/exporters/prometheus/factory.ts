/** Factory of the `prometheus` pull exporter. */
import type { ExporterFactory } from '../../component.ts';
import { createExporter } from '../helper/exporter.ts';
import { createDefaultPrometheusConfig, prometheusConfigSchema, type PrometheusConfig } from './config.ts';
import { PrometheusSender } from './exporter.ts';

export const prometheusExporterFactory: ExporterFactory<PrometheusConfig> = {
  kind: 'exporter',
  type: 'prometheus',
  configSchema: prometheusConfigSchema,
  createDefaultConfig: createDefaultPrometheusConfig,
  listenAddresses: (config) => [{ key: 'endpoint', transport: 'tcp', address: config.endpoint }],
  // Local and inline: no queue, retry or breaker (a scrape reads whatever is there).
  create: (settings, config) => createExporter(settings, undefined, new PrometheusSender(settings, config)),
};
