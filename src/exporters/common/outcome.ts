/** Drops by reason → the helper's `SendOutcome`, which takes one reason: the largest group names it; the breakdown goes to the debug log. */
import type { CreateSettings } from '../../component.ts';
import type { SendOutcome } from '../helper/exporter.ts';

export function outcomeOf(rejected: Map<string, number>, settings: CreateSettings): SendOutcome | undefined {
  let total = 0;
  let top = '';
  let topN = 0;
  for (const [reason, n] of rejected) {
    total += n;
    if (n > topN) {
      top = reason;
      topN = n;
    }
  }
  if (total === 0) return undefined;
  if (rejected.size > 1) settings.logger.debug({ dropped: Object.fromEntries(rejected) }, 'points dropped for several reasons in one batch');
  return { rejectedPoints: total, reason: top, message: `${total} points dropped` };
}
