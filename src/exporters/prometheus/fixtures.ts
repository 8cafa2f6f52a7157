/** Batch builders for the prometheus exporter's tests and bench. */
import type { Attributes, Metric, MetricsBatch } from '../../model/metrics.ts';

export const T0 = 1_700_000_000_000_000_000; // 2023-11-14, ns

export function batchOf(resource: Attributes, metrics: Metric[], scope = { name: 'test.lib', version: '1.2.3' }): MetricsBatch {
  return {
    resourceMetrics: [{ resource: { attributes: resource }, scopeMetrics: [{ scope: { ...scope, attributes: {} }, metrics }] }],
  };
}

export function counter(name: string, value: number, opts: { attrs?: Attributes; unit?: string; temporality?: 'delta' | 'cumulative'; start?: number; time?: number; description?: string } = {}): Metric {
  return {
    type: 'sum',
    name,
    description: opts.description ?? `${name} help`,
    unit: opts.unit ?? '',
    temporality: opts.temporality ?? 'cumulative',
    monotonic: true,
    points: [{ attributes: opts.attrs ?? {}, startTimeUnixNano: opts.start ?? T0, timeUnixNano: opts.time ?? T0 + 1e9, value }],
  };
}

export function gauge(name: string, value: number, opts: { attrs?: Attributes; unit?: string; time?: number; description?: string } = {}): Metric {
  return {
    type: 'gauge',
    name,
    description: opts.description ?? `${name} help`,
    unit: opts.unit ?? '',
    points: [{ attributes: opts.attrs ?? {}, startTimeUnixNano: 0, timeUnixNano: opts.time ?? T0 + 1e9, value }],
  };
}

/** A rich batch: every metric type, units, scope, resource attributes. */
export function richBatch(): MetricsBatch {
  const resource = { 'service.name': 'checkout', 'service.namespace': 'shop', 'service.instance.id': 'pod-1', 'k8s.pod.name': 'checkout-7d9' };
  return batchOf(resource, [
    counter('http.server.requests', 42, { attrs: { 'http.method': 'GET', 'http.status_code': 200 }, unit: '{request}', description: 'HTTP requests served' }),
    counter('process.cpu.time', 1.5, { unit: 's', description: 'CPU time' }),
    gauge('process.memory.usage', 1048576, { unit: 'By', description: 'Resident memory' }),
    gauge('cpu.utilization', 0.25, { unit: '1', description: 'CPU utilisation' }),
    {
      type: 'sum',
      name: 'queue.depth',
      description: 'Items waiting "now"\nper queue',
      unit: '{item}',
      temporality: 'cumulative',
      monotonic: false,
      points: [{ attributes: { queue: 'a\\b"c' }, startTimeUnixNano: T0, timeUnixNano: T0 + 1e9, value: -3 }],
    },
    {
      type: 'histogram',
      name: 'http.server.duration',
      description: 'Request duration',
      unit: 's',
      temporality: 'cumulative',
      points: [{ attributes: { route: '/cart' }, startTimeUnixNano: T0, timeUnixNano: T0 + 1e9, count: 10, sum: 2.5, explicitBounds: [0.1, 0.5, 1], bucketCounts: [4, 3, 2, 1] }],
    },
    {
      type: 'exponential_histogram',
      name: 'rpc.payload.size',
      description: 'Payload size',
      unit: 'By',
      temporality: 'cumulative',
      points: [
        {
          attributes: {},
          startTimeUnixNano: T0,
          timeUnixNano: T0 + 1e9,
          count: 9,
          sum: 300,
          scale: 1,
          zeroCount: 1,
          positive: { offset: 8, bucketCounts: [1, 2, 0, 3] },
          negative: { offset: 0, bucketCounts: [2] },
        },
      ],
    },
    {
      type: 'summary',
      name: 'gc.pause',
      description: 'GC pauses',
      unit: 's',
      points: [{ attributes: {}, startTimeUnixNano: T0, timeUnixNano: T0 + 1e9, count: 5, sum: 0.05, quantiles: [{ quantile: 0.5, value: 0.01 }, { quantile: 0.99, value: 0.02 }] }],
    },
  ]);
}
