import type { ExporterFactory } from '../../component.ts';
import { createExporter } from '../helper/exporter.ts';
import { createDefaultRemoteWriteConfig, helperSettings, remoteWriteConfigSchema, type RemoteWriteConfig } from './config.ts';
import { RemoteWriteSender } from './sender.ts';

export const prometheusRemoteWriteExporterFactory: ExporterFactory<RemoteWriteConfig> = {
  kind: 'exporter',
  type: 'prometheusremotewrite',
  configSchema: remoteWriteConfigSchema,
  createDefaultConfig: createDefaultRemoteWriteConfig,
  create(settings, config) {
    return createExporter(settings, helperSettings(config), new RemoteWriteSender(config));
  },
};
