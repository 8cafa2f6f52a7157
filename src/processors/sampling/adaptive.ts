/**
 * The adaptive part of sampling: a factor f in [min_rate, 1] multiplied into
 * every rule's rate so that kept points stay under `max_points_per_second`.
 *
 * Each interval (default 1s) the processor measures the *offered* volume: the
 * points the static rules would keep at f = 1. That measurement does not
 * depend on f, so there is no feedback loop to oscillate. Then:
 *   estimate = max(volume of the last interval, EWMA of the volume)
 *   target   = 1 if estimate ≤ budget, else max(min_rate, budget / estimate)
 * and f moves to the target *at once when it must fall* (protect the backend
 * as soon as the volume rises) but *rises at most ×max_increase per interval*
 * (default 2), so a short lull does not open the gates to the next burst.
 * With the defaults f climbs from 0.01 back to 1 in seven intervals once the
 * traffic has fallen. Silent intervals count as zero volume.
 *
 * A burst can spend an interval's budget before the interval ends; when the
 * points expected to be kept in the current interval already exceed its
 * budget, the factor is recomputed early from the partial interval, so the
 * overshoot after a step up is bounded by about one interval's budget.
 *
 * Time comes from an injected clock (milliseconds) so tests run on a fake one.
 */
export interface AdaptiveOptions {
  maxPointsPerSecond: number;
  minRate: number;
  intervalMs: number;
  maxIncrease: number;
  /** EWMA weight of the newest interval, 0 < alpha ≤ 1. */
  smoothing: number;
}

export class AdaptiveRate {
  private readonly opts: AdaptiveOptions;
  private readonly now: () => number;
  private readonly budgetPerInterval: number;
  private windowStart: number;
  private offeredInWindow = 0;
  private ewma = -1;
  private current = 1;

  constructor(opts: AdaptiveOptions, now: () => number) {
    this.opts = opts;
    this.now = now;
    this.windowStart = now();
    this.budgetPerInterval = (opts.maxPointsPerSecond * opts.intervalMs) / 1000;
  }

  /** The factor to apply now, after closing any interval that has ended. */
  factor(): number {
    const t = this.now();
    if (t - this.windowStart >= this.opts.intervalMs) this.update(t);
    return this.current;
  }

  /** Record points the static rules would keep at factor 1. */
  offer(points: number): void {
    this.offeredInWindow += points;
    if (this.offeredInWindow * this.current > this.budgetPerInterval) {
      // Early close only once a tenth of the interval has passed, so one huge batch at its start is not measured over ~0 ms.
      if (this.now() - this.windowStart >= this.opts.intervalMs / 10) this.update(this.now());
    }
  }

  /**
   * Close the current window. `factor()` runs before every batch is offered,
   * so a window's points all arrived within its first interval; any further
   * whole intervals up to `t` were silent and count as zero volume.
   */
  private update(t: number): void {
    const interval = this.opts.intervalMs;
    const elapsed = t - this.windowStart;
    const alpha = this.opts.smoothing;
    let volume = (this.offeredInWindow * 1000) / Math.min(elapsed, interval);
    this.ewma = this.ewma < 0 ? volume : alpha * volume + (1 - alpha) * this.ewma;
    const intervals = Math.max(1, Math.floor(elapsed / interval));
    if (intervals > 1) {
      this.ewma *= Math.pow(1 - alpha, intervals - 1);
      volume = 0;
    }
    const estimate = Math.max(volume, this.ewma);
    const budget = this.opts.maxPointsPerSecond;
    const target = estimate <= budget ? 1 : Math.max(this.opts.minRate, budget / estimate);
    this.current = target < this.current ? target : Math.min(target, this.current * Math.pow(this.opts.maxIncrease, intervals));
    this.windowStart = t;
    this.offeredInWindow = 0;
  }
}
