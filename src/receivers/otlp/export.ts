/**
 * What both transports do with a decoded request: count the points the
 * decoder rejected as invalid, hand the rest to the pipeline, and classify
 * the pipeline's answer the OTLP way (otelcol's receiver/otlp + errorutil):
 * - accepted → success, with partial success when points were rejected;
 * - refused (`TRIB_REFUSED`, memory limiter or full queue) or any other
 *   retryable failure → "try later" (gRPC UNAVAILABLE / HTTP 503, or
 *   RESOURCE_EXHAUSTED / 429 when load is shed: a full queue or the memory
 *   limiter), with a retry delay;
 * - permanent failure → "do not retry" (INVALID_ARGUMENT / 400).
 */
import type { MetricsConsumer } from '../../consumer.ts';
import { isPermanent, TributaryError, errorMessage } from '../../errors.ts';
import { countPoints, type MetricsBatch } from '../../model/metrics.ts';
import type { DecodeIssues } from '../../otlp/decode.ts';
import type { ExportResult } from '../../otlp/encode.ts';
import type { ReceiverObs } from '../obs.ts';

export const DEFAULT_RETRY_AFTER_MS = 1000;

export type ExportOutcome =
  | { kind: 'ok'; result: ExportResult }
  | { kind: 'retry'; exhausted: boolean; retryAfterMs: number; message: string }
  | { kind: 'permanent'; message: string };

export async function exportBatch(next: MetricsConsumer, obs: ReceiverObs, batch: MetricsBatch, issues: DecodeIssues): Promise<ExportOutcome> {
  obs.refusedPoints('invalid', issues.rejectedPoints);
  const result: ExportResult = { rejectedDataPoints: issues.rejectedPoints, errorMessage: issues.message };
  // An empty request is valid OTLP (and what some SDKs send on flush): nothing to hand on.
  if (countPoints(batch) === 0) return { kind: 'ok', result };
  try {
    await next.consume(batch);
    return { kind: 'ok', result };
  } catch (err) {
    const message = errorMessage(err);
    if (isPermanent(err)) return { kind: 'permanent', message };
    const te = err instanceof TributaryError ? err : undefined;
    return {
      kind: 'retry',
      // Load shedding (a full blocking queue, the memory limiter) asks the client to back off: 429 / RESOURCE_EXHAUSTED.
      exhausted: te?.reason === 'queue_full' || te?.reason === 'memory_limit',
      retryAfterMs: te?.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS,
      message,
    };
  }
}
