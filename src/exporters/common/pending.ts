/**
 * A batch's requests, built on its first attempt and kept until all are
 * delivered: a retry resumes at the first request not yet accepted, so no
 * request is sent twice and translation (with its delta state) runs once per
 * batch. Requests refused permanently count their source points as rejected
 * by reason; a refused key (`forbidden`) refuses the rest of the batch at once.
 */
import type { CreateSettings } from '../../component.ts';
import { isPermanent, reasonOf } from '../../errors.ts';
import type { MetricsBatch } from '../../model/metrics.ts';
import type { SendOutcome } from '../helper/exporter.ts';
import { outcomeOf } from './outcome.ts';

export interface SourcedRequest {
  /** Source points the request carries (counted rejected if it is refused). */
  src: number;
}

interface Pending<R> {
  requests: R[];
  next: number;
  rejected: Map<string, number>;
}

export class PendingRequests<R extends SourcedRequest> {
  private readonly settings: CreateSettings;
  private readonly deliver: (request: R, signal: AbortSignal) => Promise<void>;
  private readonly onRefused: (reason: string, err: unknown) => void;
  private readonly byBatch = new WeakMap<MetricsBatch, Pending<R>>();

  /** `deliver` sends one request; `onRefused` hears of each permanent refusal (to log it). */
  constructor(settings: CreateSettings, deliver: (request: R, signal: AbortSignal) => Promise<void>, onRefused: (reason: string, err: unknown) => void) {
    this.settings = settings;
    this.deliver = deliver;
    this.onRefused = onRefused;
  }

  /** Whether this batch's requests were built on an earlier attempt. */
  has(batch: MetricsBatch): boolean {
    return this.byBatch.has(batch);
  }

  /** Keep the batch's requests, and the points already dropped in translation by reason. */
  add(batch: MetricsBatch, requests: R[], rejected: Map<string, number>): void {
    this.byBatch.set(batch, { requests, next: 0, rejected });
  }

  /** Deliver what is left of the batch's requests; a retryable failure is thrown with the rest kept for the retry. */
  async send(batch: MetricsBatch, signal: AbortSignal): Promise<SendOutcome | undefined> {
    const p = this.byBatch.get(batch);
    if (!p) return undefined;
    while (p.next < p.requests.length) {
      try {
        await this.deliver(p.requests[p.next], signal);
        p.next++;
      } catch (err) {
        if (!isPermanent(err)) throw err;
        const reason = reasonOf(err);
        this.onRefused(reason, err);
        const upTo = reason === 'forbidden' ? p.requests.length : p.next + 1;
        for (; p.next < upTo; p.next++) {
          const n = p.requests[p.next].src;
          if (n > 0) p.rejected.set(reason, (p.rejected.get(reason) ?? 0) + n);
        }
      }
    }
    this.byBatch.delete(batch);
    return outcomeOf(p.rejected, this.settings);
  }
}
