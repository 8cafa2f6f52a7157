import type { ProcessorFactory } from '../../component.ts';
import { createProcessor } from '../helper.ts';
import { createDefaultResourceConfig, resourceConfigSchema, validateResourceConfig, type ResourceConfig } from './config.ts';
import { ResourceProcessor } from './processor.ts';

export const resourceProcessorFactory: ProcessorFactory<ResourceConfig> = {
  kind: 'processor',
  type: 'resource',
  configSchema: resourceConfigSchema,
  createDefaultConfig: createDefaultResourceConfig,
  validate: validateResourceConfig,
  create(settings, config, next) {
    const p = new ResourceProcessor(config);
    return createProcessor(settings, next, (batch) => p.process(batch));
  },
};
