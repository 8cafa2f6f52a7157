import type { ProcessorFactory } from '../../component.ts';
import { refusedError } from '../../errors.ts';
import { createDefaultMemoryLimiterConfig, memoryLimiterConfigSchema, validateMemoryLimiterConfig, type MemoryLimiterConfig } from './config.ts';
import { acquireMonitor, type MemoryMonitor } from './monitor.ts';

/**
 * Refuses batches while memory is above the soft limit. The refusal travels
 * back to the receiver as `TRIB_REFUSED` with reason `memory_limit` and a
 * retry delay (OTLP answers 503/UNAVAILABLE + Retry-After); the service
 * counts the refused points. Put it first in a pipeline.
 */
export const memoryLimiterProcessorFactory: ProcessorFactory<MemoryLimiterConfig> = {
  kind: 'processor',
  type: 'memory_limiter',
  configSchema: memoryLimiterConfigSchema,
  createDefaultConfig: createDefaultMemoryLimiterConfig,
  validate: validateMemoryLimiterConfig,
  create(settings, config, next) {
    let monitor: MemoryMonitor | undefined;
    let release: (() => void) | undefined;
    return {
      mutatesData: false,
      async start() {
        if (monitor) return;
        ({ monitor, release } = acquireMonitor(settings.id.id, config, settings.logger));
      },
      async shutdown() {
        release?.();
        release = undefined;
        monitor = undefined;
      },
      async consume(batch) {
        if (monitor?.refusing) {
          throw refusedError('memory usage is above the soft limit', { reason: 'memory_limit', retryAfterMs: monitor.retryAfterMs });
        }
        await next.consume(batch);
      },
    };
  },
};
