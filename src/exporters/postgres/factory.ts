/** The `postgres` exporter (CONTRACT §7): every point and per-period rollups into PostgreSQL, exactly once. */
import type { ExporterFactory } from '../../component.ts';
import { createExporter } from '../helper/exporter.ts';
import { createDefaultConfig, postgresConfigSchema, validateConfig, type PostgresConfig } from './config.ts';
import { PostgresSender } from './sender.ts';

export const postgresExporterFactory: ExporterFactory<PostgresConfig> = {
  kind: 'exporter',
  type: 'postgres',
  configSchema: postgresConfigSchema,
  createDefaultConfig,
  validate: validateConfig,
  create(settings, config) {
    return createExporter(settings, config, new PostgresSender(config, settings.logger));
  },
};
