/** What the OTLP exporters share: partial success → `SendOutcome`. */
import type { SendOutcome } from '../helper/exporter.ts';
import type { ExportResult } from '../../otlp/encode.ts';

/** A partial success (OTLP spec): rejected points are failed, not retried; the rest were delivered. */
export function outcomeOf(result: ExportResult): SendOutcome | undefined {
  if (result.rejectedDataPoints <= 0) return undefined;
  return { rejectedPoints: result.rejectedDataPoints, reason: 'partial_success', message: result.errorMessage };
}
