/** Factory of the `debug` exporter. */
import type { ExporterFactory } from '../../component.ts';
import { createExporter } from '../helper/exporter.ts';
import { createDefaultDebugConfig, debugConfigSchema, type DebugConfig } from './config.ts';
import { DebugSender } from './exporter.ts';

export const debugExporterFactory: ExporterFactory<DebugConfig> = {
  kind: 'exporter',
  type: 'debug',
  configSchema: debugConfigSchema,
  createDefaultConfig: createDefaultDebugConfig,
  create: (settings, config) => createExporter(settings, undefined, new DebugSender(settings, config)),
};
