import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CollectingConsumer } from '../../consumer.ts';
import { isRefused, TributaryError } from '../../errors.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { batchOf, gauge, numberPoint } from '../internal/testing.ts';
import { computeLimits, memoryLimiterConfigSchema, recommendedMaxOldSpaceMiB, validateMemoryLimiterConfig } from './config.ts';
import { memoryLimiterProcessorFactory } from './factory.ts';
import { readCgroupLimit } from './memory.ts';
import { MemoryMonitor, memoryPressure } from './monitor.ts';

const MiB = 1024 * 1024;
const parse = (raw: unknown) => memoryLimiterConfigSchema.parse(raw);

describe('limits', () => {
  it('soft = limit − spike, with a 20% spike by default, in MiB or percentages', () => {
    expect(computeLimits(parse({ limit_mib: 500, spike_limit_mib: 100 }), 0)).toEqual({ hardBytes: 500 * MiB, softBytes: 400 * MiB });
    expect(computeLimits(parse({ limit_mib: 500 }), 0)).toEqual({ hardBytes: 500 * MiB, softBytes: 400 * MiB });
    expect(computeLimits(parse({ limit_percentage: 80, spike_limit_percentage: 20 }), 1000 * MiB)).toEqual({ hardBytes: 800 * MiB, softBytes: 600 * MiB });
    expect(recommendedMaxOldSpaceMiB({ hardBytes: 500 * MiB, softBytes: 400 * MiB })).toBe(450);
  });

  it('validates as otelcol does', () => {
    const keys = (raw: unknown) => validateMemoryLimiterConfig(parse(raw)).map((i) => i[0]);
    expect(keys({})).toEqual(['limit_mib']);
    expect(keys({ limit_mib: 100, spike_limit_mib: 100 })).toEqual(['spike_limit_mib']);
    expect(keys({ limit_mib: 100, limit_percentage: 50 })).toEqual(['limit_percentage']);
    expect(keys({ limit_percentage: 80, spike_limit_percentage: 25, check_interval: '100ms' })).toEqual([]);
    expect(parse({ limit_mib: 1, check_interval: '250ms' }).check_interval).toBe(250);
    expect(() => parse({ limit_mib: 1, ballast_size_mib: 3 })).toThrow();
  });

  it('reads the cgroup v2 limit, then v1, ignoring "max" and v1 unlimited', () => {
    const v2 = mkdtempSync(join(tmpdir(), 'cg2-'));
    writeFileSync(join(v2, 'memory.max'), '268435456\n');
    expect(readCgroupLimit(v2)).toEqual({ bytes: 268435456, source: 'cgroup v2' });
    writeFileSync(join(v2, 'memory.max'), 'max\n');
    expect(readCgroupLimit(v2)).toBeUndefined();
    const v1 = mkdtempSync(join(tmpdir(), 'cg1-'));
    mkdirSync(join(v1, 'memory'));
    writeFileSync(join(v1, 'memory', 'memory.limit_in_bytes'), '536870912\n');
    expect(readCgroupLimit(v1)).toEqual({ bytes: 536870912, source: 'cgroup v1' });
    writeFileSync(join(v1, 'memory', 'memory.limit_in_bytes'), '9223372036854771712\n');
    expect(readCgroupLimit(v1)).toBeUndefined();
  });
});

describe('MemoryMonitor', () => {
  it('refuses above the soft limit, tries a GC first, and recovers by itself', () => {
    let usage = 100 * MiB;
    let gcs = 0;
    let now = 0;
    const m = new MemoryMonitor(parse({ limit_mib: 200, spike_limit_mib: 50, min_gc_interval_when_soft_limited: '10s' }), silentLogger(), {
      readMemory: () => usage,
      readRss: () => 0,
      gc: () => {
        gcs++;
        return true;
      },
      now: () => now,
    });
    expect(m.limits.softBytes).toBe(150 * MiB);
    m.check();
    expect(m.refusing).toBe(false);
    expect(memoryPressure()).toBe(false);

    usage = 160 * MiB;
    m.check();
    expect(gcs).toBe(1);
    expect(m.refusing).toBe(true);
    expect(memoryPressure()).toBe(true);

    // Soft-limited GCs are rate limited…
    now += 1000;
    m.check();
    expect(gcs).toBe(1);
    // …hard-limited ones are not (min_gc_interval_when_hard_limited: 0).
    usage = 210 * MiB;
    m.check();
    expect(gcs).toBe(2);

    usage = 120 * MiB;
    m.check();
    expect(m.refusing).toBe(false);
    expect(memoryPressure()).toBe(false);
    m.stop();
  });

  it('does not refuse when a GC brings usage back under the soft limit', () => {
    let usage = 190 * MiB;
    const m = new MemoryMonitor(parse({ limit_mib: 200 }), silentLogger(), {
      readMemory: () => usage,
      readRss: () => 0,
      gc: () => {
        usage = 100 * MiB;
        return true;
      },
    });
    m.check();
    expect(m.refusing).toBe(false);
    m.stop();
  });

  it('refuses while RSS is above the hard limit whatever the measure says', () => {
    let rss = 250 * MiB;
    const m = new MemoryMonitor(parse({ limit_mib: 200 }), silentLogger(), { readMemory: () => 10 * MiB, readRss: () => rss, gc: () => false });
    m.check();
    expect(m.refusing).toBe(true);
    rss = 180 * MiB;
    m.check();
    expect(m.refusing).toBe(false);
    m.stop();
  });

  it('computes percentages from the container limit', () => {
    const m = new MemoryMonitor(parse({ limit_percentage: 50, spike_limit_percentage: 10 }), silentLogger(), {
      readMemory: () => 0,
      readRss: () => 0,
      totalMemory: () => ({ bytes: 1000 * MiB, source: 'cgroup v2' }),
    });
    expect(m.limits).toEqual({ hardBytes: 500 * MiB, softBytes: 400 * MiB });
  });
});

describe('memory_limiter processor', () => {
  it('refuses with TRIB_REFUSED/memory_limit and a retry delay above the limit, and passes data through below it', async () => {
    const tight = memoryLimiterProcessorFactory.create(
      testSettings('processor', 'memory_limiter/tight', 'metrics'),
      parse({ limit_mib: 2, spike_limit_mib: 1, check_interval: '50ms' }),
      new CollectingConsumer(),
    );
    await tight.start(testHost());
    expect(memoryPressure()).toBe(true);
    const err = await tight.consume(batchOf([gauge('g', [numberPoint(1)])])).catch((e) => e);
    expect(isRefused(err)).toBe(true);
    expect((err as TributaryError).reason).toBe('memory_limit');
    expect((err as TributaryError).retryAfterMs).toBe(1000);
    await tight.shutdown();
    await tight.shutdown();
    expect(memoryPressure()).toBe(false);

    const next = new CollectingConsumer();
    const roomy = memoryLimiterProcessorFactory.create(testSettings('processor', 'memory_limiter', 'metrics'), parse({ limit_mib: 1 << 20 }), next);
    await roomy.start(testHost());
    await roomy.consume(batchOf([gauge('g', [numberPoint(1)])]));
    expect(next.batches).toHaveLength(1);
    await roomy.shutdown();
  });

  it('shares one monitor between the pipelines that list the same component', async () => {
    const cfg = parse({ limit_mib: 2, spike_limit_mib: 1 });
    const a = memoryLimiterProcessorFactory.create(testSettings('processor', 'memory_limiter', 'metrics/a'), cfg, new CollectingConsumer());
    const b = memoryLimiterProcessorFactory.create(testSettings('processor', 'memory_limiter', 'metrics/b'), cfg, new CollectingConsumer());
    await a.start(testHost());
    await b.start(testHost());
    await a.shutdown();
    // b still runs: still refusing.
    expect(memoryPressure()).toBe(true);
    await b.shutdown();
    expect(memoryPressure()).toBe(false);
  });
});
