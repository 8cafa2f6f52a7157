/**
 * Retry timing: exponential backoff with jitter (otelcol's backoff settings),
 * a floor set by the peer's `Retry-After`, and a budget of elapsed time.
 */
import type { ExporterHelperConfig } from './config.ts';

export type RetryConfig = ExporterHelperConfig['retry_on_failure'];

/**
 * Delay before retry number `attempt` (0 for the first retry): the interval
 * grows by `multiplier` up to `max_interval`, then is spread uniformly over
 * ±`randomization_factor` so that many exporters do not retry in lockstep.
 * A `Retry-After` from the peer is a floor: the backend said when it can take
 * data again, and retrying earlier only earns another refusal.
 */
export function retryDelay(cfg: RetryConfig, attempt: number, retryAfterMs?: number, random: () => number = Math.random): number {
  const base = Math.min(cfg.max_interval, cfg.initial_interval * cfg.multiplier ** attempt);
  const spread = base * cfg.randomization_factor;
  const jittered = base - spread + random() * 2 * spread;
  return Math.max(Math.round(jittered), retryAfterMs ?? 0);
}

/** Sleep that ends early (resolving false) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settle with `promise`, or reject as soon as `signal` aborts: a sender that
 * ignores its signal (a hung socket) must not hold a consumer forever.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
