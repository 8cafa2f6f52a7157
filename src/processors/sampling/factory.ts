import type { ProcessorFactory } from '../../component.ts';
import { createProcessor } from '../helper.ts';
import { createDefaultSamplingConfig, samplingConfigSchema, validateSamplingConfig, type SamplingConfig } from './config.ts';
import { Sampler } from './sampler.ts';

export const samplingProcessorFactory: ProcessorFactory<SamplingConfig> = {
  kind: 'processor',
  type: 'sampling',
  configSchema: samplingConfigSchema,
  createDefaultConfig: createDefaultSamplingConfig,
  validate: validateSamplingConfig,
  create(settings, config, next) {
    const sampler = new Sampler(config);
    const disposers: Array<() => void> = [];
    // One gauge per rule, read at scrape time so it shows the adaptive factor as it is now.
    for (const rule of sampler.rules) {
      disposers.push(
        settings.telemetry.samplingRate.observe({ processor: settings.id.id, pipeline: settings.pipeline, rule: rule.name }, () => sampler.effectiveRate(rule)),
      );
    }
    return createProcessor(settings, next, (batch, drop) => sampler.process(batch, drop), {
      async shutdown() {
        for (const d of disposers.splice(0)) d();
      },
    });
  },
};
