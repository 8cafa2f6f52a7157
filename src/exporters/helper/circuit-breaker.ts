/**
 * A circuit breaker per exporter. After `failure_threshold` consecutive
 * failed attempts it opens: nothing is sent for `open_duration` and batches
 * wait in the queue. Then it is half-open: `half_open_requests` probes go out;
 * if they succeed the breaker closes and normal flow resumes, if one fails it
 * opens again. A permanent error (4xx) proves the backend is up, so it counts
 * as a success here.
 */
import type { ExporterHelperConfig } from './config.ts';

export type BreakerConfig = ExporterHelperConfig['circuit_breaker'];
export type BreakerState = 'closed' | 'half_open' | 'open';

/** Gauge encoding of CONTRACT §6: 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/** What `acquire` hands out; give it back with `release`. */
export interface Permit {
  probe: boolean;
}

const CLOSED_PERMIT: Permit = { probe: false };

export class CircuitBreaker {
  private readonly cfg: BreakerConfig;
  private _state: BreakerState = 'closed';
  private consecutiveFailures = 0;
  private probesOut = 0;
  private probesSucceeded = 0;
  private openTimer: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private readonly listeners: Array<(s: BreakerState) => void> = [];

  constructor(cfg: BreakerConfig) {
    this.cfg = cfg;
  }

  get state(): BreakerState {
    return this._state;
  }

  onStateChange(fn: (s: BreakerState) => void): void {
    this.listeners.push(fn);
  }

  /** A permit now, or undefined when the breaker does not allow a send at this moment. */
  tryAcquire(): Permit | undefined {
    if (!this.cfg.enabled || this._state === 'closed') return CLOSED_PERMIT;
    if (this._state === 'half_open' && this.probesOut < this.cfg.half_open_requests) {
      this.probesOut++;
      return { probe: true };
    }
    return undefined;
  }

  /** Wait for a permit; undefined if `signal` aborts first. */
  async acquire(signal: AbortSignal): Promise<Permit | undefined> {
    for (;;) {
      const p = this.tryAcquire();
      if (p) return p;
      if (signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.push(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  /** Report how the attempt under `permit` went. */
  release(permit: Permit, ok: boolean): void {
    if (!this.cfg.enabled) return;
    if (permit.probe) {
      this.probesOut--;
      if (this._state !== 'half_open') return;
      if (!ok) return this.open();
      if (++this.probesSucceeded >= this.cfg.half_open_requests) this.close();
      else this.wakeAll();
      return;
    }
    if (ok) {
      this.consecutiveFailures = 0;
      return;
    }
    // Failures of attempts started before the breaker opened do not re-open it.
    if (this._state === 'closed' && ++this.consecutiveFailures >= this.cfg.failure_threshold) this.open();
  }

  /** Stop timers (exporter shutdown); waiters are woken so they can see their abort signal. */
  dispose(): void {
    clearTimeout(this.openTimer);
    this.wakeAll();
  }

  private open(): void {
    this.setState('open');
    this.probesSucceeded = 0;
    clearTimeout(this.openTimer);
    this.openTimer = setTimeout(() => {
      this.setState('half_open');
      this.wakeAll();
    }, this.cfg.open_duration);
    this.openTimer.unref();
  }

  private close(): void {
    this.consecutiveFailures = 0;
    this.probesSucceeded = 0;
    this.setState('closed');
    this.wakeAll();
  }

  private setState(s: BreakerState): void {
    if (this._state === s) return;
    this._state = s;
    for (const fn of this.listeners) fn(s);
  }

  private wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const wake of w) wake();
  }
}
