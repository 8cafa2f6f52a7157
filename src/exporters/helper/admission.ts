/**
 * What both exporters built by the helper (inline and queued) do with a batch
 * before delivering it, so the two count it the same way: an empty batch is
 * ignored, one arriving after shutdown is failed(`shutdown`), and the
 * sender's `prepare` runs once, its removed points failed(`unsupported`).
 */
import type { MetricsBatch } from '../../model/metrics.ts';
import { countPoints } from '../../model/metrics.ts';
import type { Sender } from './exporter.ts';
import type { ExporterObs } from './obs.ts';

/** The points of `batch` to deliver; 0 when there are none or the exporter has stopped (then counted failed). */
export function admittedPoints(obs: ExporterObs, stopped: boolean, batch: MetricsBatch, pipeline: string): number {
  const n = countPoints(batch);
  if (n > 0 && stopped) {
    obs.failed(pipeline, 'shutdown', n);
    return 0;
  }
  return n;
}

export interface Prepared {
  batch: MetricsBatch;
  points: number;
}

/** The batch as the sender wants it delivered (the prepared batch replaces the original and stays in its pipeline), and its points. */
export function prepareOnce(sender: Sender, obs: ExporterObs, batch: MetricsBatch, points: number, pipeline: string): Prepared {
  if (!sender.prepare) return { batch, points };
  const prepared = sender.prepare(batch);
  const kept = countPoints(prepared);
  if (kept < points) obs.failed(pipeline, 'unsupported', points - kept);
  return { batch: prepared, points: kept };
}
