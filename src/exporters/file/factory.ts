/** Factory of the `file` exporter. */
import type { ExporterFactory } from '../../component.ts';
import { createExporter } from '../helper/exporter.ts';
import { createDefaultFileConfig, fileConfigSchema, helperConfigOf, validateFileConfig, type FileConfig } from './config.ts';
import { FileSender } from './sender.ts';

export const fileExporterFactory: ExporterFactory<FileConfig> = {
  kind: 'exporter',
  type: 'file',
  configSchema: fileConfigSchema,
  createDefaultConfig: createDefaultFileConfig,
  validate: validateFileConfig,
  create: (settings, config) => createExporter(settings, helperConfigOf(config), new FileSender(settings, config)),
};
