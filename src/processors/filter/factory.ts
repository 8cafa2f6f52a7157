import type { ProcessorFactory } from '../../component.ts';
import { createProcessor } from '../helper.ts';
import { createDefaultFilterConfig, filterConfigSchema, validateFilterConfig, type FilterConfig } from './config.ts';
import { MetricFilter } from './filter.ts';

export const filterProcessorFactory: ProcessorFactory<FilterConfig> = {
  kind: 'processor',
  type: 'filter',
  configSchema: filterConfigSchema,
  createDefaultConfig: createDefaultFilterConfig,
  validate: validateFilterConfig,
  create(settings, config, next) {
    const filter = new MetricFilter(config);
    return createProcessor(settings, next, (batch, drop) => filter.process(batch, drop));
  },
};
