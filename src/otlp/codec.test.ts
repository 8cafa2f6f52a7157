import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TributaryError } from '../errors.ts';
import { countPoints, type MetricsBatch } from '../model/metrics.ts';
import { decodeExportRequest, decodeExportRequestJson, newDecodeIssues } from './decode.ts';
import {
  decodeExportResponse,
  decodeExportResponseJson,
  encodeExportRequest,
  encodeExportRequestJson,
  encodeExportResponse,
  encodeExportResponseJson,
} from './encode.ts';
import { ExportMetricsServiceRequest, otlpRoot } from './schema.ts';
import { decodeStatus, encodeStatus } from './status.ts';
import { everyTypeBatch } from './testdata.ts';

function expectBadRequest(fn: () => unknown): TributaryError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TributaryError);
    expect((err as TributaryError).code).toBe('TRIB_BAD_REQUEST');
    return err as TributaryError;
  }
  throw new Error('expected TRIB_BAD_REQUEST');
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

describe('OTLP protobuf codec', () => {
  it('round-trips every metric type', () => {
    const bytes = encodeExportRequest(everyTypeBatch());
    const issues = newDecodeIssues();
    expect(decodeExportRequest(bytes, issues)).toEqual(everyTypeBatch());
    expect(issues.rejectedPoints).toBe(0);
  });

  it('gives every decode of repeated attribute bytes its own, equal attributes (the attribute-block cache)', () => {
    const batch = (): MetricsBatch => ({
      resourceMetrics: [
        {
          resource: { attributes: {} },
          scopeMetrics: [
            {
              scope: { name: '', version: '', attributes: {} },
              metrics: [
                {
                  name: 'm',
                  description: '',
                  unit: '',
                  type: 'gauge' as const,
                  points: [
                    { attributes: { a: 'x', n: 1, b: true, z: null }, startTimeUnixNano: 0, timeUnixNano: 1, value: 1, isInt: false, flags: 0 },
                    { attributes: { a: 'x', n: 1, b: true, z: null }, startTimeUnixNano: 0, timeUnixNano: 1, value: 2, isInt: false, flags: 0 },
                    { attributes: { list: ['x'], kv: { k: 'v' }, raw: new Uint8Array([1]) }, startTimeUnixNano: 0, timeUnixNano: 1, value: 3, isInt: false, flags: 0 },
                    { attributes: { list: ['x'], kv: { k: 'v' }, raw: new Uint8Array([1]) }, startTimeUnixNano: 0, timeUnixNano: 1, value: 4, isInt: false, flags: 0 },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const bytes = encodeExportRequest(batch());
    const first = decodeExportRequest(bytes);
    const points = first.resourceMetrics[0].scopeMetrics[0].metrics[0].points;
    expect(first).toEqual(batch());
    expect(points[0].attributes).not.toBe(points[1].attributes);
    expect(points[2].attributes.list).not.toBe(points[3].attributes.list);
    // The owner of a decoded batch may edit it; later decodes of the same bytes must not see that.
    points[0].attributes.a = 'edited';
    delete points[1].attributes.n;
    (points[2].attributes.list as string[]).push('y');
    expect(decodeExportRequest(Buffer.from(bytes))).toEqual(batch());
  });

  it('decodes attributes interleaved with other fields and duplicate keys the same as one run', () => {
    // NumberDataPoint: attributes (7) a=1, time (3), attributes (7) b=2, a=3; a later duplicate wins.
    const kv = (k: string, v: string) => {
      const any = Buffer.concat([Buffer.from([0x0a, v.length]), Buffer.from(v)]);
      const body = Buffer.concat([Buffer.from([0x0a, k.length]), Buffer.from(k), Buffer.from([0x12, any.length]), any]);
      return Buffer.concat([Buffer.from([0x3a, body.length]), body]);
    };
    const time = Buffer.from([0x19, 5, 0, 0, 0, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    const point = Buffer.concat([kv('a', '1'), time, kv('b', '2'), kv('a', '3')]);
    const gauge = Buffer.concat([Buffer.from([0x0a, point.length]), point]);
    const metric = Buffer.concat([Buffer.from([0x0a, 1, 0x67, 0x2a, gauge.length]), gauge]);
    const sm = Buffer.concat([Buffer.from([0x12, metric.length]), metric]);
    const rm = Buffer.concat([Buffer.from([0x12, sm.length]), sm]);
    const req = Buffer.concat([Buffer.from([0x0a, rm.length]), rm]);
    for (let i = 0; i < 2; i++) {
      const p = decodeExportRequest(req).resourceMetrics[0].scopeMetrics[0].metrics[0].points[0];
      expect(p.attributes).toEqual({ a: '3', b: '2' });
      expect(p).toMatchObject({ timeUnixNano: 5, value: 1 });
    }
  });

  it('agrees with protobufjs on the wire format', () => {
    // Decode our encoding with protobufjs (reflection) and check a few 64-bit and oneof fields.
    const msg = ExportMetricsServiceRequest.toObject(ExportMetricsServiceRequest.decode(encodeExportRequest(everyTypeBatch())), {
      longs: String,
      bytes: Array,
    }) as any;
    const metrics = msg.resourceMetrics[0].scopeMetrics[0].metrics;
    expect(metrics[0].sum.dataPoints[0].asInt).toBe('42');
    expect(metrics[0].sum.dataPoints[1].asInt).toBe('-7');
    expect(metrics[0].sum.dataPoints[0].timeUnixNano).toBe('1700000010000000000');
    expect(metrics[0].sum.aggregationTemporality).toBe(2);
    expect(metrics[3].histogram.dataPoints[0].bucketCounts).toEqual(['2', '3', '5', '0']);
    expect(metrics[4].exponentialHistogram.dataPoints[0].positive).toEqual({ offset: 50, bucketCounts: ['1', '0', '4', String(2 ** 40)] });
    expect(metrics[4].exponentialHistogram.dataPoints[0].negative.offset).toBe(-2);
    expect(msg.resourceMetrics[1].scopeMetrics[0].metrics[0].sum.dataPoints[0].attributes[1]).toEqual({ key: 'neg', value: { intValue: String(-(2 ** 40)) } });
  });

  it('reads unpacked repeated fields and negative int64 attributes written by another encoder', () => {
    const Point = otlpRoot.lookupType('opentelemetry.proto.metrics.v1.HistogramDataPoint');
    // Hand-build: bucket_counts (6) and explicit_bounds (7) unpacked, one element per tag.
    const w = Point.encode({ count: 3, timeUnixNano: 5 }).finish();
    const extra = Buffer.from([
      0x31, 1, 0, 0, 0, 0, 0, 0, 0, // bucket_counts = 1
      0x31, 2, 0, 0, 0, 0, 0, 0, 0, // bucket_counts = 2
      0x39, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // explicit_bounds = 1.0
    ]);
    const point = Buffer.concat([w, extra]);
    const histogram = Buffer.concat([Buffer.from([0x0a, point.length]), point, Buffer.from([0x10, 1])]);
    const metric = Buffer.concat([Buffer.from([0x0a, 1, 0x68, 0x4a, histogram.length]), histogram]);
    const sm = Buffer.concat([Buffer.from([0x12, metric.length]), metric]);
    const rm = Buffer.concat([Buffer.from([0x12, sm.length]), sm]);
    const req = Buffer.concat([Buffer.from([0x0a, rm.length]), rm]);
    const batch = decodeExportRequest(req);
    const m = batch.resourceMetrics[0].scopeMetrics[0].metrics[0];
    expect(m).toMatchObject({ name: 'h', type: 'histogram', temporality: 'delta' });
    expect(m.points[0]).toMatchObject({ count: 3, timeUnixNano: 5, bucketCounts: [1, 2], explicitBounds: [1] });
  });

  it('rejects invalid points with partial-success accounting', () => {
    const batch = everyTypeBatch();
    const hist = batch.resourceMetrics[0].scopeMetrics[0].metrics[3];
    if (hist.type !== 'histogram') throw new Error('fixture changed');
    hist.points[0].bucketCounts = [1, 2]; // 3 bounds need 4 counts
    const bytes = encodeExportRequest(batch);
    const issues = newDecodeIssues();
    const decoded = decodeExportRequest(bytes, issues);
    expect(issues.rejectedPoints).toBe(1);
    expect(issues.message).toMatch(/2 bucket counts for 3 bounds/);
    expect(countPoints(decoded)).toBe(countPoints(everyTypeBatch()) - 1);

    const jsonIssues = newDecodeIssues();
    decodeExportRequestJson(encodeExportRequestJson(batch), jsonIssues);
    expect(jsonIssues).toEqual(issues);
  });

  it('rejects sums with unspecified temporality', () => {
    const Req = ExportMetricsServiceRequest;
    const bytes = Req.encode({
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 's', sum: { dataPoints: [{ asInt: 1 }, { asInt: 2 }] } }] }] }],
    }).finish();
    const issues = newDecodeIssues();
    const batch = decodeExportRequest(bytes, issues);
    expect(countPoints(batch)).toBe(0);
    expect(issues.rejectedPoints).toBe(2);
    expect(issues.message).toMatch(/temporality/);
  });

  it('throws TRIB_BAD_REQUEST on malformed bytes', () => {
    const good = encodeExportRequest(everyTypeBatch());
    expectBadRequest(() => decodeExportRequest(good.subarray(0, good.length - 3)));
    expectBadRequest(() => decodeExportRequest(Buffer.from('this is not protobuf at all')));
    expectBadRequest(() => decodeExportRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])));
    expectBadRequest(() => decodeExportRequest(Buffer.from([0x0b]))); // group start
  });

  it('bounds attribute nesting depth', () => {
    // Hand-built (protobufjs refuses to encode this deep): AnyValue{array_value{values: AnyValue{…}}} × 100.
    const AnyValue = otlpRoot.lookupType('opentelemetry.proto.common.v1.AnyValue');
    let any = Buffer.from(AnyValue.encode({ stringValue: 'leaf' }).finish());
    for (let i = 0; i < 100; i++) {
      const array = Buffer.concat([Buffer.from([0x0a]), varint(any.length), any]);
      any = Buffer.concat([Buffer.from([0x2a]), varint(array.length), array]);
    }
    const kv = Buffer.concat([Buffer.from([0x0a, 1, 0x6b, 0x12]), varint(any.length), any]);
    const resource = Buffer.concat([Buffer.from([0x0a]), varint(kv.length), kv]);
    const rm = Buffer.concat([Buffer.from([0x0a]), varint(resource.length), resource]);
    const bytes = Buffer.concat([Buffer.from([0x0a]), varint(rm.length), rm]);
    expect(expectBadRequest(() => decodeExportRequest(bytes)).message).toMatch(/nested too deeply/);
  });

  it('never throws anything but TRIB_BAD_REQUEST on arbitrary or mutated bytes', () => {
    const good = encodeExportRequest(everyTypeBatch());
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeExportRequest(bytes);
        } catch (err) {
          expect((err as TributaryError).code).toBe('TRIB_BAD_REQUEST');
        }
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const mutated = Buffer.from(good);
        mutated[at] = byte;
        try {
          decodeExportRequest(mutated);
        } catch (err) {
          expect((err as TributaryError).code).toBe('TRIB_BAD_REQUEST');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('encodes and decodes the export response', () => {
    expect(encodeExportResponse({ rejectedDataPoints: 0, errorMessage: '' }).length).toBe(0);
    expect(decodeExportResponse(new Uint8Array(0))).toEqual({ rejectedDataPoints: 0, errorMessage: '' });
    const r = { rejectedDataPoints: 3, errorMessage: 'histogram data point has 2 bucket counts for 3 bounds' };
    expect(decodeExportResponse(encodeExportResponse(r))).toEqual(r);
    expect(decodeExportResponseJson(encodeExportResponseJson(r))).toEqual(r);
    expect(JSON.parse(encodeExportResponseJson(r))).toEqual({ partialSuccess: { rejectedDataPoints: '3', errorMessage: r.errorMessage } });
    expect(decodeExportResponseJson('{}')).toEqual({ rejectedDataPoints: 0, errorMessage: '' });
    expect(decodeExportResponseJson('')).toEqual({ rejectedDataPoints: 0, errorMessage: '' });
  });

  it('encodes a Status with retry info', () => {
    expect(decodeStatus(encodeStatus(14, 'memory limit', 2500))).toEqual({ code: 14, message: 'memory limit' });
  });
});

describe('OTLP/JSON codec', () => {
  it('round-trips every metric type', () => {
    const text = encodeExportRequestJson(everyTypeBatch());
    expect(decodeExportRequestJson(text)).toEqual(everyTypeBatch());
  });

  it('writes OTLP/JSON spellings', () => {
    const json = JSON.parse(encodeExportRequestJson(everyTypeBatch()));
    const metrics = json.resourceMetrics[0].scopeMetrics[0].metrics;
    expect(metrics[0].sum).toMatchObject({ aggregationTemporality: 2, isMonotonic: true });
    expect(metrics[0].sum.dataPoints[0]).toMatchObject({ asInt: '42', timeUnixNano: '1700000010000000000' });
    expect(metrics[2].gauge.dataPoints[0].attributes.find((a: any) => a.key === 'raw').value).toEqual({ bytesValue: 'AAEC/w==' });
    expect(metrics[2].gauge.dataPoints[1].asDouble).toBe('NaN');
    expect(metrics[2].gauge.dataPoints[2].asDouble).toBe('Infinity');
    expect(metrics[3].histogram.dataPoints[0].bucketCounts).toEqual(['2', '3', '5', '0']);
  });

  it('accepts what other OTLP/JSON writers send: numbers for int64, enum names, missing fields', () => {
    const text = JSON.stringify({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }, { key: 'n', value: { intValue: 5 } }] },
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'c',
                  sum: {
                    aggregationTemporality: 'AGGREGATION_TEMPORALITY_DELTA',
                    isMonotonic: true,
                    dataPoints: [{ asInt: 7, timeUnixNano: 1700000000000000000, attributes: [] }],
                  },
                  unknownField: { ignored: true },
                },
                { name: 'g', gauge: { dataPoints: [{ asDouble: '1.5', timeUnixNano: '10' }] } },
              ],
            },
          ],
        },
      ],
    });
    const batch = decodeExportRequestJson(text);
    expect(batch.resourceMetrics[0].resource.attributes).toEqual({ 'service.name': 'svc', n: 5 });
    const [c, g] = batch.resourceMetrics[0].scopeMetrics[0].metrics;
    expect(c).toEqual({
      name: 'c',
      description: '',
      unit: '',
      type: 'sum',
      temporality: 'delta',
      monotonic: true,
      points: [{ attributes: {}, startTimeUnixNano: 0, timeUnixNano: 1700000000000000000, value: 7, isInt: true, flags: 0 }],
    });
    expect(g.points[0]).toMatchObject({ value: 1.5, isInt: false, timeUnixNano: 10 });
    expect(batch.resourceMetrics[0].scopeMetrics[0].scope).toEqual({ name: '', version: '', attributes: {} });
  });

  it('throws TRIB_BAD_REQUEST on malformed JSON or wrong shapes', () => {
    expectBadRequest(() => decodeExportRequestJson('{"resourceMetrics": ['));
    expectBadRequest(() => decodeExportRequestJson('[]'));
    expectBadRequest(() => decodeExportRequestJson('{"resourceMetrics": 5}'));
    expectBadRequest(() => decodeExportRequestJson('{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"asInt":"abc"}]}}]}]}]}'));
    expectBadRequest(() => decodeExportRequestJson('{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":{"boolValue":"yes"}}]}}]}'));
  });

  it('keeps a __proto__ attribute as data', () => {
    const batch = decodeExportRequestJson(
      '{"resourceMetrics":[{"resource":{"attributes":[{"key":"__proto__","value":{"kvlistValue":{"values":[{"key":"polluted","value":{"boolValue":true}}]}}}]}}]}',
    );
    const attrs = batch.resourceMetrics[0].resource.attributes;
    expect(Object.keys(attrs)).toEqual(['__proto__']);
    expect(({} as any).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
  });
});
