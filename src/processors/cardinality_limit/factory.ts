import type { ProcessorFactory } from '../../component.ts';
import { createProcessor } from '../helper.ts';
import { cardinalityLimitConfigSchema, createDefaultCardinalityLimitConfig, validateCardinalityLimitConfig, type CardinalityLimitConfig } from './config.ts';
import { CardinalityLimiter } from './limiter.ts';

export const cardinalityLimitProcessorFactory: ProcessorFactory<CardinalityLimitConfig> = {
  kind: 'processor',
  type: 'cardinality_limit',
  configSchema: cardinalityLimitConfigSchema,
  createDefaultConfig: createDefaultCardinalityLimitConfig,
  validate: validateCardinalityLimitConfig,
  create(settings, config, next) {
    const limiter = new CardinalityLimiter(config);
    const limitedPoints = settings.telemetry.registry.counter(
      'tributary_cardinality_limited_points_total',
      'Data points whose series was over a cardinality cap, by action (dropped or folded into the overflow series).',
    );
    const labels = { processor: settings.id.id, pipeline: settings.pipeline };
    const droppedHandle = limitedPoints.bind({ ...labels, action: 'drop' });
    const foldedHandle = limitedPoints.bind({ ...labels, action: 'overflow' });
    return createProcessor(settings, next, (batch, drop) => {
      const out = limiter.process(batch, drop);
      if (out.limited.dropped > 0) droppedHandle.add(out.limited.dropped);
      if (out.limited.folded > 0) foldedHandle.add(out.limited.folded);
      return out.batch;
    });
  },
};
