import { describe, expect, it } from 'vitest';
import type { MetricsBatch } from '../../model/metrics.ts';
import { PipelineTelemetry } from '../../telemetry/self-metrics.ts';
import { testSettings } from '../../testing/settings.ts';
import { createExporter } from '../helper/exporter.ts';
import { debugConfigSchema } from './config.ts';
import { DebugSender } from './exporter.ts';
import { debugExporterFactory } from './factory.ts';
import { formatTimestamp } from './format.ts';

const T = 1_700_000_000_123_456_768; // exactly representable as a double

function batch(): MetricsBatch {
  return {
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'api', 'host.cpus': 4 } },
        scopeMetrics: [
          {
            scope: { name: 'lib', version: '1.0', attributes: {} },
            metrics: [
              {
                type: 'sum',
                name: 'requests',
                description: 'Requests served',
                unit: '{request}',
                temporality: 'delta',
                monotonic: true,
                points: [
                  { attributes: { method: 'GET', ok: true }, startTimeUnixNano: T - 1e9, timeUnixNano: T, value: 3, isInt: true },
                  { attributes: { method: 'POST', ok: false }, startTimeUnixNano: T - 1e9, timeUnixNano: T, value: 1, isInt: true },
                ],
              },
              {
                type: 'histogram',
                name: 'latency',
                description: 'Latency',
                unit: 'ms',
                temporality: 'cumulative',
                points: [{ attributes: {}, startTimeUnixNano: T - 1e9, timeUnixNano: T, count: 3, sum: 7.5, min: 1, max: 4, explicitBounds: [2], bucketCounts: [1, 2] }],
              },
            ],
          },
        ],
      },
    ],
  };
}

function run(raw: Record<string, unknown>) {
  const lines: string[] = [];
  const telemetry = new PipelineTelemetry();
  const settings = testSettings('exporter', 'debug', '', telemetry);
  const exporter = createExporter(settings, undefined, new DebugSender(settings, debugConfigSchema.parse(raw), { write: (s: string) => lines.push(s) }));
  return { exporter, lines, telemetry };
}

describe('debug exporter', () => {
  it('defaults as otelcol: basic, stderr, sampling 2/1', () => {
    expect(debugExporterFactory.createDefaultConfig()).toEqual({ verbosity: 'basic', sampling_initial: 2, sampling_thereafter: 1, stream: 'stderr', use_internal_logger: false });
    expect(debugConfigSchema.safeParse({ verbosity: 'loud' }).success).toBe(false);
  });

  it('basic prints one summary line per batch and counts the points as sent', async () => {
    const { exporter, lines, telemetry } = run({});
    await exporter.consume(batch());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z\tinfo\tMetrics\t\{"exporter":"debug","resource metrics":1,"metrics":2,"data points":3\}\n$/);
    expect(telemetry.exporterSent.get({ exporter: 'debug' })).toBe(3);
  });

  it('detailed prints every point with its attributes', async () => {
    const { exporter, lines } = run({ verbosity: 'detailed' });
    await exporter.consume(batch());
    const body = lines[0].slice(lines[0].indexOf('\n') + 1);
    const ts = '2023-11-14 22:13:20.123456768 +0000 UTC';
    const start = '2023-11-14 22:13:19.123456768 +0000 UTC';
    expect(body).toBe(
      [
        'ResourceMetrics #0',
        'Resource SchemaURL: ',
        'Resource attributes:',
        '     -> service.name: Str(api)',
        '     -> host.cpus: Int(4)',
        'ScopeMetrics #0',
        'ScopeMetrics SchemaURL: ',
        'InstrumentationScope lib 1.0',
        'Metric #0',
        'Descriptor:',
        '     -> Name: requests',
        '     -> Description: Requests served',
        '     -> Unit: {request}',
        '     -> DataType: Sum',
        '     -> IsMonotonic: true',
        '     -> AggregationTemporality: Delta',
        'NumberDataPoints #0',
        'Data point attributes:',
        '     -> method: Str(GET)',
        '     -> ok: Bool(true)',
        `StartTimestamp: ${start}`,
        `Timestamp: ${ts}`,
        'Value: 3',
        'NumberDataPoints #1',
        'Data point attributes:',
        '     -> method: Str(POST)',
        '     -> ok: Bool(false)',
        `StartTimestamp: ${start}`,
        `Timestamp: ${ts}`,
        'Value: 1',
        'Metric #1',
        'Descriptor:',
        '     -> Name: latency',
        '     -> Description: Latency',
        '     -> Unit: ms',
        '     -> DataType: Histogram',
        '     -> AggregationTemporality: Cumulative',
        'HistogramDataPoints #0',
        `StartTimestamp: ${start}`,
        `Timestamp: ${ts}`,
        'Count: 3',
        'Sum: 7.500000',
        'Min: 1.000000',
        'Max: 4.000000',
        'ExplicitBounds #0: 2.000000',
        'Buckets #0, Count: 1',
        'Buckets #1, Count: 2',
        '',
      ].join('\n'),
    );
  });

  it('normal prints one line per point', async () => {
    const { exporter, lines } = run({ verbosity: 'normal' });
    await exporter.consume(batch());
    expect(lines[0].split('\n').slice(1)).toEqual([
      'ResourceMetrics #0 service.name=api,host.cpus=4',
      'ScopeMetrics #0 lib@1.0',
      'requests{method=GET,ok=true} 3',
      'requests{method=POST,ok=false} 1',
      'latency{} count=3 sum=7.5 min=1 max=4',
      '',
    ]);
  });

  it('samples: the first N per second, then every Mth, all counted as sent', async () => {
    const { exporter, lines, telemetry } = run({ sampling_initial: 2, sampling_thereafter: 3 });
    for (let i = 0; i < 8; i++) await exporter.consume(batch());
    // Within one second: 1, 2, then 5 and 8 (every 3rd past the first 2). A second boundary
    // during the loop restarts the budget, so only the lower bound is certain.
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.length).toBeLessThan(8);
    expect(telemetry.exporterSent.get({ exporter: 'debug' })).toBe(24);
  });

  it('formats timestamps as Go does', () => {
    expect(formatTimestamp(0)).toBe('1970-01-01 00:00:00.000000000 +0000 UTC');
    expect(formatTimestamp(1_500_000_001)).toBe('1970-01-01 00:00:01.500000001 +0000 UTC');
  });
});
