/** A batch holding every metric type and attribute kind, in the decoders' canonical shape (for codec and receiver tests, and the bench). */
import type { MetricsBatch } from '../model/metrics.ts';

const T0 = 1_700_000_000_000_000_000;
const T1 = 1_700_000_010_000_000_000;

export function everyTypeBatch(): MetricsBatch {
  return {
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'checkout', 'k8s.pod.uid': 'abc-123', 'process.pid': 4242 } },
        schemaUrl: 'https://opentelemetry.io/schemas/1.24.0',
        scopeMetrics: [
          {
            scope: { name: 'shop.meter', version: '1.2.3', attributes: { 'scope.attr': true } },
            schemaUrl: 'https://opentelemetry.io/schemas/1.24.0',
            metrics: [
              {
                name: 'requests',
                description: 'Requests served',
                unit: '{request}',
                type: 'sum',
                temporality: 'cumulative',
                monotonic: true,
                points: [
                  { attributes: { route: '/cart', code: 200 }, startTimeUnixNano: T0, timeUnixNano: T1, value: 42, isInt: true, flags: 0 },
                  { attributes: { route: '/pay', code: 500 }, startTimeUnixNano: T0, timeUnixNano: T1, value: -7, isInt: true, flags: 0 },
                ],
              },
              {
                name: 'queue.delta',
                description: '',
                unit: '',
                type: 'sum',
                temporality: 'delta',
                monotonic: false,
                points: [{ attributes: {}, startTimeUnixNano: T0, timeUnixNano: T1, value: -2.5, isInt: false, flags: 0 }],
              },
              {
                name: 'temperature',
                description: 'Room temperature',
                unit: 'Cel',
                type: 'gauge',
                points: [
                  {
                    attributes: {
                      nested: { list: [1, 'two', 3.5, false, null], deeper: { x: 'y' } },
                      raw: new Uint8Array([0, 1, 2, 255]),
                      pi: 3.14159,
                      empty: '',
                    },
                    startTimeUnixNano: 0,
                    timeUnixNano: T1,
                    value: 21.5,
                    isInt: false,
                    flags: 0,
                  },
                  { attributes: { room: 'none' }, startTimeUnixNano: 0, timeUnixNano: T1, value: NaN, isInt: false, flags: 1 },
                  { attributes: { room: 'hot' }, startTimeUnixNano: 0, timeUnixNano: T1, value: Infinity, isInt: false, flags: 0 },
                ],
              },
              {
                name: 'latency',
                description: 'Request latency',
                unit: 'ms',
                type: 'histogram',
                temporality: 'delta',
                points: [
                  {
                    attributes: { route: '/cart' },
                    startTimeUnixNano: T0,
                    timeUnixNano: T1,
                    flags: 0,
                    count: 10,
                    sum: 123.5,
                    min: 0.5,
                    max: 80,
                    explicitBounds: [1, 10, 100],
                    bucketCounts: [2, 3, 5, 0],
                  },
                  {
                    attributes: {},
                    startTimeUnixNano: T0,
                    timeUnixNano: T1,
                    flags: 0,
                    count: 3,
                    sum: undefined,
                    min: undefined,
                    max: undefined,
                    explicitBounds: [],
                    bucketCounts: [3],
                  },
                ],
              },
              {
                name: 'payload.size',
                description: '',
                unit: 'By',
                type: 'exponential_histogram',
                temporality: 'cumulative',
                points: [
                  {
                    attributes: { dir: 'in' },
                    startTimeUnixNano: T0,
                    timeUnixNano: T1,
                    flags: 0,
                    count: 17,
                    sum: 5000.25,
                    min: -3,
                    max: 900,
                    scale: 3,
                    zeroCount: 2,
                    zeroThreshold: 1e-9,
                    positive: { offset: 50, bucketCounts: [1, 0, 4, 2 ** 40] },
                    negative: { offset: -2, bucketCounts: [3] },
                  },
                  {
                    attributes: {},
                    startTimeUnixNano: T0,
                    timeUnixNano: T1,
                    flags: 0,
                    count: 0,
                    sum: undefined,
                    min: undefined,
                    max: undefined,
                    scale: -4,
                    zeroCount: 0,
                    zeroThreshold: undefined,
                    positive: { offset: 0, bucketCounts: [] },
                    negative: { offset: 0, bucketCounts: [] },
                  },
                ],
              },
              {
                name: 'rpc.duration',
                description: 'Legacy summary',
                unit: 's',
                type: 'summary',
                points: [
                  {
                    attributes: { method: 'Get' },
                    startTimeUnixNano: T0,
                    timeUnixNano: T1,
                    flags: 0,
                    count: 100,
                    sum: 12.25,
                    quantiles: [
                      { quantile: 0, value: 0.01 },
                      { quantile: 0.5, value: 0.1 },
                      { quantile: 1, value: 2 },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      },
      {
        resource: { attributes: {} },
        scopeMetrics: [
          {
            scope: { name: '', version: '', attributes: {} },
            metrics: [
              {
                name: 'big.counter',
                description: '',
                unit: '',
                type: 'sum',
                temporality: 'cumulative',
                monotonic: true,
                points: [{ attributes: { big: 2 ** 52 + 1, neg: -(2 ** 40) }, startTimeUnixNano: 0, timeUnixNano: T1, value: 2 ** 53, isInt: true, flags: 0 }],
              },
            ],
          },
        ],
      },
    ],
  };
}

/** A batch shaped like what an instrumented service sends: `series` gauge/sum points with 4 attributes each. */
export function typicalBatch(series: number): MetricsBatch {
  const points = [];
  for (let i = 0; i < series; i++) {
    points.push({
      attributes: { 'http.route': `/api/v1/items/${i % 50}`, 'http.method': i % 2 ? 'GET' : 'POST', 'http.status_code': 200 + (i % 5), 'net.host.name': 'pod-7' },
      startTimeUnixNano: T0,
      timeUnixNano: T1 + i,
      value: i * 3,
      isInt: true,
      flags: 0,
    });
  }
  return {
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'bench', 'service.instance.id': 'i-1', 'k8s.pod.name': 'bench-0' } },
        scopeMetrics: [
          {
            scope: { name: 'bench', version: '1', attributes: {} },
            metrics: [{ name: 'http.server.requests', description: '', unit: '1', type: 'sum', temporality: 'cumulative', monotonic: true, points }],
          },
        ],
      },
    ],
  };
}
