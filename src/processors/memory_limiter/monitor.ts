/**
 * The memory monitor behind `memory_limiter`: measures memory every
 * `check_interval` and flips a "refusing" flag when usage crosses the soft
 * limit, with otelcol's behaviour:
 * - above the soft limit: force a GC (at most every
 *   `min_gc_interval_when_soft_limited`), measure again, and refuse data if
 *   usage is still above the soft limit;
 * - above the hard limit: the same, with `min_gc_interval_when_hard_limited`;
 *   RSS above the hard limit counts as above it whatever `measure` says;
 * - back below the soft limit: accept again, by itself.
 * Transitions are logged once per change, not per batch.
 *
 * One monitor per memory_limiter component, shared by the instances in every
 * pipeline that lists it. `memoryPressure()` is a module-level flag that any
 * component can read for free (the StatsD receiver drops datagrams before
 * parsing them while it is set).
 */
import type { Logger } from 'pino';
import type { MemoryLimiterConfig, MemoryLimits } from './config.ts';
import { computeLimits, recommendedMaxOldSpaceMiB } from './config.ts';
import { forceGc, heapSizeLimit, readHeapUsed, readLive, readRss, totalMemory } from './memory.ts';

export interface MonitorDeps {
  readMemory?: () => number;
  readRss?: () => number;
  totalMemory?: () => { bytes: number; source: string };
  gc?: () => boolean;
  now?: () => number;
}

let refusingMonitors = 0;

/** True while any running memory_limiter is above its soft limit. One integer read: call it per datagram if you like. */
export function memoryPressure(): boolean {
  return refusingMonitors > 0;
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => Math.round(bytes / MiB);

export class MemoryMonitor {
  readonly limits: MemoryLimits;
  readonly retryAfterMs: number;
  private readonly cfg: MemoryLimiterConfig;
  private readonly logger: Logger;
  private readonly read: () => number;
  private readonly rss: () => number;
  private readonly gc: () => boolean;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private refusingNow = false;
  private lastGc = -Infinity;
  /** Last measured usage, bytes. */
  lastUsage = 0;

  constructor(cfg: MemoryLimiterConfig, logger: Logger, deps: MonitorDeps = {}) {
    this.cfg = cfg;
    this.logger = logger;
    this.read = deps.readMemory ?? (cfg.measure === 'heap' ? readHeapUsed : cfg.measure === 'rss' ? readRss : readLive);
    this.rss = deps.readRss ?? readRss;
    this.gc = deps.gc ?? forceGc;
    this.now = deps.now ?? Date.now;
    const total = cfg.limit_mib > 0 ? { bytes: 0, source: 'limit_mib' } : (deps.totalMemory ?? totalMemory)();
    this.limits = computeLimits(cfg, total.bytes);
    this.retryAfterMs = Math.max(1000, Math.ceil(cfg.check_interval / 1000) * 1000);
    logger.info(
      { hard_limit_mib: mib(this.limits.hardBytes), soft_limit_mib: mib(this.limits.softBytes), measure: cfg.measure, limit_source: total.source },
      'memory limiter configured',
    );
  }

  get refusing(): boolean {
    return this.refusingNow;
  }

  start(): void {
    if (this.timer) return;
    const heapLimit = heapSizeLimit();
    if (heapLimit > this.limits.hardBytes) {
      this.logger.warn(
        { heap_size_limit_mib: mib(heapLimit), hard_limit_mib: mib(this.limits.hardBytes), recommended: `--max-old-space-size=${recommendedMaxOldSpaceMiB(this.limits)}` },
        'V8 heap limit is above the memory limit: run node with the recommended --max-old-space-size (NODE_OPTIONS) so V8 collects before the limit',
      );
    }
    this.check();
    this.timer = setInterval(() => this.check(), this.cfg.check_interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.setRefusing(false, this.lastUsage);
  }

  /** Measure once and update the flag; the timer calls this every check_interval. */
  check(): void {
    let used = this.read();
    let rss = this.rss();
    if (used > this.limits.softBytes || rss > this.limits.hardBytes) {
      const hard = used > this.limits.hardBytes || rss > this.limits.hardBytes;
      const minInterval = hard ? this.cfg.min_gc_interval_when_hard_limited : this.cfg.min_gc_interval_when_soft_limited;
      const t = this.now();
      if (t - this.lastGc >= minInterval && this.gc()) {
        this.lastGc = t;
        used = this.read();
        rss = this.rss();
      }
    }
    this.lastUsage = used;
    this.setRefusing(used > this.limits.softBytes || rss > this.limits.hardBytes, used);
  }

  private setRefusing(refusing: boolean, used: number): void {
    if (refusing === this.refusingNow) return;
    this.refusingNow = refusing;
    refusingMonitors += refusing ? 1 : -1;
    if (refusing) {
      this.logger.warn({ usage_mib: mib(used), soft_limit_mib: mib(this.limits.softBytes), hard_limit_mib: mib(this.limits.hardBytes) }, 'memory usage above the soft limit: refusing data');
    } else {
      this.logger.info({ usage_mib: mib(used), soft_limit_mib: mib(this.limits.softBytes) }, 'memory usage below the soft limit again: accepting data');
    }
  }
}

interface Shared {
  monitor: MemoryMonitor;
  refs: number;
}

const shared = new Map<string, Shared>();

/**
 * The monitor for a component ID and config, created on first use and
 * shared by every pipeline's instance; stopped when the last one releases it.
 */
export function acquireMonitor(componentId: string, cfg: MemoryLimiterConfig, logger: Logger): { monitor: MemoryMonitor; release: () => void } {
  const key = componentId + '\u0000' + JSON.stringify(cfg);
  let entry = shared.get(key);
  if (!entry) {
    entry = { monitor: new MemoryMonitor(cfg, logger), refs: 0 };
    shared.set(key, entry);
    entry.monitor.start();
  }
  entry.refs++;
  const e = entry;
  let released = false;
  return {
    monitor: e.monitor,
    release() {
      if (released) return;
      released = true;
      if (--e.refs === 0) {
        e.monitor.stop();
        shared.delete(key);
      }
    },
  };
}
