/**
 * Config of the `memory_limiter` processor, spelled as otelcol's
 * memorylimiterprocessor:
 *
 * ```yaml
 * memory_limiter:
 *   check_interval: 1s
 *   limit_mib: 400            # hard limit
 *   spike_limit_mib: 80       # soft limit = limit_mib − spike_limit_mib (default 20% of the limit)
 *   # or, relative to the container's cgroup limit (the host's memory without one):
 *   limit_percentage: 80
 *   spike_limit_percentage: 20
 *   measure: live             # live (default) | rss | heap
 * ```
 * `live` is the memory the process holds and a GC can give back: the V8
 * heap in use plus external memory (Buffers, ArrayBuffers), the equivalent of
 * the Go heap otelcol measures. RSS alone is a poor signal for recovery:
 * V8 and malloc keep freed pages mapped, so RSS can stay above the soft
 * limit long after the data is gone and the limiter would never let go.
 * Whatever the measure, RSS above the hard limit also refuses (the OOM
 * killer counts RSS). `heap` is the V8 heap in use only.
 */
import { z, duration } from '../../config/types.ts';

export const memoryLimiterConfigSchema = z
  .object({
    check_interval: duration().prefault('1s'),
    limit_mib: z.number().int().min(0).default(0),
    spike_limit_mib: z.number().int().min(0).default(0),
    limit_percentage: z.number().int().min(0).max(100).default(0),
    spike_limit_percentage: z.number().int().min(0).max(100).default(0),
    min_gc_interval_when_soft_limited: duration().prefault('10s'),
    min_gc_interval_when_hard_limited: duration().prefault('0s'),
    measure: z.enum(['live', 'rss', 'heap']).default('live'),
  })
  .strict();

export type MemoryLimiterConfig = z.infer<typeof memoryLimiterConfigSchema>;

export function createDefaultMemoryLimiterConfig(): MemoryLimiterConfig {
  return memoryLimiterConfigSchema.parse({});
}

export function validateMemoryLimiterConfig(cfg: MemoryLimiterConfig): Array<[string, string]> {
  const issues: Array<[string, string]> = [];
  if (cfg.check_interval <= 0) issues.push(['check_interval', 'must be greater than zero']);
  if (cfg.limit_mib === 0 && cfg.limit_percentage === 0) issues.push(['limit_mib', 'set limit_mib or limit_percentage (one must be greater than zero)']);
  if (cfg.limit_mib > 0 && cfg.limit_percentage > 0) issues.push(['limit_percentage', 'set either limit_mib or limit_percentage, not both']);
  if (cfg.limit_mib > 0 && cfg.spike_limit_mib >= cfg.limit_mib) issues.push(['spike_limit_mib', 'must be smaller than limit_mib']);
  if (cfg.limit_percentage > 0 && cfg.spike_limit_percentage >= cfg.limit_percentage) issues.push(['spike_limit_percentage', 'must be smaller than limit_percentage']);
  return issues;
}

export interface MemoryLimits {
  hardBytes: number;
  softBytes: number;
}

const MiB = 1024 * 1024;

/** Hard and soft limits in bytes; `totalBytes` is the cgroup limit (or host memory) that percentages refer to. */
export function computeLimits(cfg: MemoryLimiterConfig, totalBytes: number): MemoryLimits {
  if (cfg.limit_mib > 0) {
    const hard = cfg.limit_mib * MiB;
    // otelcol's default spike allowance: 20% of the limit.
    const spike = cfg.spike_limit_mib > 0 ? cfg.spike_limit_mib * MiB : Math.floor(hard / 5);
    return { hardBytes: hard, softBytes: hard - spike };
  }
  const hard = Math.floor((totalBytes * cfg.limit_percentage) / 100);
  const spike = cfg.spike_limit_percentage > 0 ? Math.floor((totalBytes * cfg.spike_limit_percentage) / 100) : Math.floor(hard / 5);
  return { hardBytes: hard, softBytes: hard - spike };
}

/**
 * The V8 old-space size that suits a limit: midway between the soft and hard
 * limits. The heap is part of RSS, so RSS crosses the soft limit (and the
 * limiter starts refusing) before the heap can reach this size; and with the
 * heap capped below the hard limit V8 collects aggressively instead of
 * letting the container be OOM-killed. Pass it as
 * `node --max-old-space-size=N` (V8 ignores the flag once the heap exists).
 */
export function recommendedMaxOldSpaceMiB(limits: MemoryLimits): number {
  return Math.max(16, Math.floor((limits.softBytes + limits.hardBytes) / 2 / MiB));
}
