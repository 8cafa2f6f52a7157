import type { ExporterFactory } from '../../component.ts';
import { createExporter } from '../helper/exporter.ts';
import { createDefaultOtlpGrpcConfig, otlpGrpcConfigSchema, type OtlpGrpcConfig } from './config.ts';
import { OtlpGrpcSender } from './sender.ts';

export const otlpGrpcExporterFactory: ExporterFactory<OtlpGrpcConfig> = {
  kind: 'exporter',
  type: 'otlp_grpc',
  configSchema: otlpGrpcConfigSchema,
  createDefaultConfig: createDefaultOtlpGrpcConfig,
  create(settings, config) {
    return createExporter(settings, config, new OtlpGrpcSender(config));
  },
};
