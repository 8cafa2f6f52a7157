import type { ProcessorFactory } from '../../component.ts';
import { BatchProcessor } from './batch.ts';
import { batchConfigSchema, validateBatchConfig, type BatchConfig } from './config.ts';

export const batchProcessorFactory: ProcessorFactory<BatchConfig> = {
  kind: 'processor',
  type: 'batch',
  configSchema: batchConfigSchema,
  createDefaultConfig: () => batchConfigSchema.parse({}),
  validate: validateBatchConfig,
  create: (settings, config, next) => new BatchProcessor(settings, config, next),
};
