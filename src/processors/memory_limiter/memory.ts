/**
 * Reading memory: the process's usage, the container's cgroup limit, and a
 * forced garbage collection when the runtime allows one.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** cgroup v2 `memory.max`, then v1 `memory.limit_in_bytes`; undefined when unlimited or not in a cgroup. */
export function readCgroupLimit(root = '/sys/fs/cgroup'): { bytes: number; source: string } | undefined {
  const v2 = readNumberFile(`${root}/memory.max`);
  if (v2 !== undefined) return { bytes: v2, source: 'cgroup v2' };
  const v1 = readNumberFile(`${root}/memory/memory.limit_in_bytes`);
  // v1 reports "unlimited" as a page-rounded 2^63 − 1.
  if (v1 !== undefined && v1 < 2 ** 60) return { bytes: v1, source: 'cgroup v1' };
  return undefined;
}

function readNumberFile(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (text === 'max') return undefined;
    const n = Number(text);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** What percentages refer to: the cgroup limit, or the host's memory without one. */
export function totalMemory(root?: string): { bytes: number; source: string } {
  return readCgroupLimit(root) ?? { bytes: totalmem(), source: 'host memory' };
}

export function readRss(): number {
  return process.memoryUsage.rss();
}

/** V8 heap in use plus external memory (Buffers, ArrayBuffers): what a GC can give back. */
export function readLive(): number {
  const u = process.memoryUsage();
  return u.heapUsed + u.external;
}

export function readHeapUsed(): number {
  return getHeapStatistics().used_heap_size;
}

export function heapSizeLimit(): number {
  return getHeapStatistics().heap_size_limit;
}

let gcFn: (() => void) | null | undefined;

/**
 * A full GC, when possible: `global.gc` under `--expose-gc`, else exposed at
 * runtime through the V8 flag (works on current Node; harmless if not).
 * Returns false when no GC function is available.
 */
export function forceGc(): boolean {
  if (gcFn === undefined) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === 'function') gcFn = g;
    else {
      try {
        setFlagsFromString('--expose-gc');
        const exposed = runInNewContext('gc') as unknown;
        gcFn = typeof exposed === 'function' ? (exposed as () => void) : null;
      } catch {
        gcFn = null;
      }
    }
  }
  if (!gcFn) return false;
  gcFn();
  return true;
}
