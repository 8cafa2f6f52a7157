import type { ExporterFactory } from '../../component.ts';
import { createExporter } from '../helper/exporter.ts';
import { createDefaultOtlpHttpConfig, otlpHttpConfigSchema, type OtlpHttpConfig } from './config.ts';
import { OtlpHttpSender } from './sender.ts';

export const otlpHttpExporterFactory: ExporterFactory<OtlpHttpConfig> = {
  kind: 'exporter',
  type: 'otlp_http',
  configSchema: otlpHttpConfigSchema,
  createDefaultConfig: createDefaultOtlpHttpConfig,
  create(settings, config) {
    return createExporter(settings, config, new OtlpHttpSender(config));
  },
};
