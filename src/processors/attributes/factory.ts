import type { ProcessorFactory } from '../../component.ts';
import { createProcessor } from '../helper.ts';
import { attributesConfigSchema, createDefaultAttributesConfig, validateAttributesConfig, type AttributesConfig } from './config.ts';
import { AttributesProcessor } from './processor.ts';

export const attributesProcessorFactory: ProcessorFactory<AttributesConfig> = {
  kind: 'processor',
  type: 'attributes',
  configSchema: attributesConfigSchema,
  createDefaultConfig: createDefaultAttributesConfig,
  validate: validateAttributesConfig,
  create(settings, config, next) {
    const p = new AttributesProcessor(config);
    return createProcessor(settings, next, (batch) => p.process(batch));
  },
};
