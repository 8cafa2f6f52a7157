import { describe, expect, it } from 'vitest';
import type { ExpHistogramPoint, HistogramPoint, Metric, NumberPoint, SummaryPoint } from '../../model/metrics.ts';
import { attributesKey } from '../../model/metrics.ts';
import { StatsdAggregator, parseNumber, parseNumberBytes, SCOPE_NAME } from './aggregator.ts';
import { statsdConfigSchema } from './config.ts';

function setup(raw: Record<string, unknown> = {}) {
  const bad: Array<[string, string]> = [];
  const ignored: string[] = [];
  let limited = 0;
  const agg = new StatsdAggregator(
    statsdConfigSchema.parse(raw),
    {
      badLine: (reason, line) => bad.push([reason, line.toString('latin1')]),
      ignored: (kind) => ignored.push(kind),
      seriesLimited: (n) => (limited += n),
    },
    1_000e9,
  );
  const send = (...datagrams: string[]) => {
    let lines = 0;
    for (const d of datagrams) lines += agg.ingest(Buffer.from(d, 'utf8'));
    return lines;
  };
  const flush = (nowNs = 1_010e9) => {
    const r = agg.flush(nowNs);
    const metrics = r.batch.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
    return { ...r, metrics };
  };
  return { agg, send, flush, bad, ignored, limited: () => limited };
}

function find(metrics: Metric[], name: string, type?: Metric['type']): Metric {
  const m = metrics.find((x) => x.name === name && (type === undefined || x.type === type));
  if (!m) throw new Error(`no metric ${name} in ${metrics.map((x) => x.name).join(', ')}`);
  return m;
}

function point(metrics: Metric[], name: string, attrs: Record<string, string> = {}) {
  const m = find(metrics, name);
  const p = (m.points as Array<{ attributes: Record<string, unknown> }>).find((x) => attributesKey(x.attributes as Record<string, string>) === attributesKey(attrs));
  if (!p) throw new Error(`no point ${JSON.stringify(attrs)} in ${name}: ${JSON.stringify(m.points.map((x) => x.attributes))}`);
  return p;
}

describe('parseNumber', () => {
  it('parses what Number parses, exactly, and rejects the rest', () => {
    for (const s of ['0', '1', '-1', '+4', '3.25', '123.45', '-0.001', '.5', '1.', '1e3', '2.5E-2', '123456789012345678', '0.1', '99.99']) {
      expect(parseNumber(s, 0, s.length)).toBe(Number(s));
    }
    for (const s of ['', '-', '+', '.', 'abc', '1.2.3', '0x10', ' 1', '1 ', 'Infinity', 'NaN', '1e400', '--1']) {
      expect(parseNumber(s, 0, s.length)).toBeNaN();
    }
  });

  it('parses bytes as it parses text, also inside a larger buffer', () => {
    for (const s of ['0', '1', '-1', '+4', '3.25', '-0.001', '.5', '1.', '1e3', '2.5E-2', '123456789012345678', '99.99', '-', '+', '.', 'abc', '1.2.3', '0x10', 'Infinity', '1e400', '--1', '\u00ff']) {
      const buf = Buffer.from(`xx${s}|yy`, 'latin1');
      expect(parseNumberBytes(buf.subarray(1), 1, 1 + s.length)).toBe(parseNumber(s, 0, s.length));
    }
  });
});

describe('StatsdAggregator', () => {
  it('counters: delta monotonic sums, scaled by 1/rate as floats, independent of tag order', () => {
    const t = setup();
    t.send('hits:1|c\nhits:2|c', 'hits:1|c|@0.1', 'req:1|c|#a:1,b:2', 'req:3|c|#b:2,a:1', 'req:0.5|c|@0.3|#a:1,b:2');
    const { metrics, points } = t.flush();
    expect(points).toBe(2);
    const hits = find(metrics, 'hits');
    expect(hits).toMatchObject({ type: 'sum', temporality: 'delta', monotonic: true });
    expect((point(metrics, 'hits') as NumberPoint).value).toBe(13);
    const req = point(metrics, 'req', { a: '1', b: '2' }) as NumberPoint;
    expect(req.value).toBeCloseTo(4 + 0.5 / 0.3, 12);
    expect(req.isInt).toBe(false);
    expect(req.startTimeUnixNano).toBe(1_000e9);
    expect(req.timeUnixNano).toBe(1_010e9);
  });

  it('is_monotonic_counter: false gives non-monotonic sums', () => {
    const t = setup({ is_monotonic_counter: false });
    t.send('x:1|c');
    expect(find(t.flush().metrics, 'x')).toMatchObject({ type: 'sum', monotonic: false });
  });

  it('gauges: last value wins; +N/-N are deltas, also on the previous interval’s value', () => {
    const t = setup();
    t.send('g:10|g\ng:+5|g\ng:-3|g', 'd:+2|g', 'neg:0|g\nneg:-7|g');
    let m = t.flush().metrics;
    expect((point(m, 'g') as NumberPoint).value).toBe(12);
    expect((point(m, 'd') as NumberPoint).value).toBe(2);
    expect((point(m, 'neg') as NumberPoint).value).toBe(-7);
    expect(find(m, 'g').type).toBe('gauge');
    t.send('g:+1.5|g');
    m = t.flush(1_020e9).metrics;
    expect((point(m, 'g') as NumberPoint).value).toBe(13.5);
    expect(m.find((x) => x.name === 'd')).toBeUndefined(); // not updated: not re-sent
    t.send('g:4|g');
    expect((point(t.flush(1_030e9).metrics, 'g') as NumberPoint).value).toBe(4);
  });

  it('sets: a gauge of distinct members per interval', () => {
    const t = setup();
    t.send('u:alice|s\nu:bob|s\nu:alice|s', 'u:carol|s|#x:y', 'u:ünï|s', 'u:a:b|s');
    const m = t.flush().metrics;
    expect(find(m, 'u').type).toBe('gauge');
    expect((point(m, 'u') as NumberPoint).value).toBe(4); // alice, bob, ünï, a:b
    expect((point(m, 'u', { x: 'y' }) as NumberPoint).value).toBe(1);
    t.send('u:alice|s');
    expect((point(t.flush().metrics, 'u') as NumberPoint).value).toBe(1);
  });

  it('timers, histograms and distributions: exponential histograms by default, weighted by 1/rate', () => {
    const t = setup();
    t.send('lat:10|ms\nlat:20|ms|@0.5', 'lat:1:2:3|ms', 'size:100|h|#k:v', 'dist:7|d|@0.25');
    const m = t.flush().metrics;
    const lat = find(m, 'lat');
    expect(lat).toMatchObject({ type: 'exponential_histogram', temporality: 'delta', unit: 'ms' });
    const p = lat.points[0] as ExpHistogramPoint;
    expect(p.count).toBe(6);
    expect(p.sum).toBe(10 + 40 + 6);
    expect(p.min).toBe(1);
    expect(p.max).toBe(20);
    expect(p.positive.bucketCounts.reduce((a, b) => a + b, 0)).toBe(6);
    expect((point(m, 'size', { k: 'v' }) as ExpHistogramPoint).count).toBe(1);
    expect(find(m, 'size').unit).toBe('');
    const d = point(m, 'dist') as ExpHistogramPoint;
    expect(d.count).toBe(4);
    expect(d.sum).toBe(28);
  });

  it('unit: s converts ms values to seconds', () => {
    const t = setup({ unit: 's' });
    t.send('lat:250|ms\nlat:750|ms');
    const m = t.flush().metrics;
    expect(find(m, 'lat').unit).toBe('s');
    expect((m[0].points[0] as ExpHistogramPoint).sum).toBe(1);
  });

  it('explicit-bucket histograms and summaries by mapping', () => {
    const t = setup({
      timer_histogram_mapping: [
        { statsd_type: 'timing', observer_type: 'histogram', histogram: { explicit_buckets: [10, 100] } },
        { statsd_type: 'histogram', observer_type: 'summary', summary: { percentiles: [0, 50, 90, 100] } },
        { statsd_type: 'distribution', observer_type: 'gauge' },
      ],
    });
    t.send('t:5|ms\nt:10|ms\nt:11|ms|@0.5\nt:1000|ms');
    t.send('h:1|h\nh:2|h\nh:3|h\nh:4|h\nh:5|h\nh:6|h\nh:7|h\nh:8|h\nh:9|h\nh:10|h|@0.5');
    t.send('d:3|d\nd:9|d');
    const m = t.flush().metrics;
    const tp = point(m, 't') as HistogramPoint;
    expect(find(m, 't').type).toBe('histogram');
    expect(tp.explicitBounds).toEqual([10, 100]);
    expect(tp.bucketCounts).toEqual([2, 2, 1]);
    expect(tp.count).toBe(5);
    expect(tp.sum).toBe(5 + 10 + 22 + 1000);
    const hp = point(m, 'h') as SummaryPoint;
    expect(find(m, 'h').type).toBe('summary');
    expect(hp.count).toBe(11);
    expect(hp.sum).toBe(45 + 20);
    expect(hp.quantiles).toEqual([
      { quantile: 0, value: 1 },
      { quantile: 0.5, value: 6 },
      { quantile: 0.9, value: 10 },
      { quantile: 1, value: 10 },
    ]);
    expect(find(m, 'd').type).toBe('gauge');
    expect((point(m, 'd') as NumberPoint).value).toBe(9);
  });

  it('DogStatsD fields: tags, bare tags, container id, timestamp, e: and card:', () => {
    const t = setup();
    t.send('m:1|c|#env:prod,canary,url:http://x/y|c:abc123|e:it-false,cn-nginx|card:high|T1700000000');
    t.send('m:2|c|T1700000005|#canary,url:http://x/y,env:prod|c:abc123');
    const m = t.flush(1_800_000_000e9).metrics;
    const p = point(m, 'm', { canary: '', 'container.id': 'abc123', env: 'prod', url: 'http://x/y' }) as NumberPoint;
    expect(p.value).toBe(3);
    expect(p.timeUnixNano).toBe(1_700_000_005e9);
    expect(p.startTimeUnixNano).toBe(1_000e9);
    expect(t.bad).toEqual([]);
  });

  it('utf-8 names and tags survive', () => {
    const t = setup();
    t.send('café.hits:1|c|#città:Zürich');
    expect((point(t.flush().metrics, 'café.hits', { città: 'Zürich' }) as NumberPoint).value).toBe(1);
  });

  it('events and service checks are counted and dropped; CRLF, blank lines and trailing newlines are fine', () => {
    const t = setup();
    const lines = t.send('_e{5,4}:title|text|#a:b\n_sc|redis|2|#env:dev|m:down\r\nok:1|c\r\n\n\nok:1|c\n');
    expect(lines).toBe(4);
    expect(t.ignored).toEqual(['event', 'service_check']);
    expect((point(t.flush().metrics, 'ok') as NumberPoint).value).toBe(2);
    expect(t.bad).toEqual([]);
  });

  it('bad lines are reported with a reason and never stop the rest of the datagram', () => {
    const t = setup({ enable_simple_tags: false });
    t.send(
      [
        'noval',
        ':1|c',
        'name:1',
        'name:|c',
        'name:1|x',
        'name:abc|c',
        'name:1:|c',
        'name:1|c|@0',
        'name:1|c|@x',
        'name:1|c|#:v',
        'name:1|c|#bare',
        'name:1|g|Tsoon',
        'a|b:1|c',
        'good:1|c',
      ].join('\n'),
    );
    expect(t.bad.map((b) => b[0])).toEqual([
      'no_value',
      'empty_name',
      'no_type',
      'empty_value',
      'unknown_type',
      'bad_value',
      'bad_value',
      'bad_sample_rate',
      'bad_sample_rate',
      'bad_tag',
      'bare_tag',
      'bad_timestamp',
      'bad_name',
    ]);
    const m = t.flush().metrics;
    expect(m.map((x) => x.name)).toEqual(['good']);
  });

  it('a cached bad tail is counted on every line', () => {
    const t = setup();
    t.send('x:1|q\nx:2|q\nx:3|q');
    expect(t.bad.length).toBe(3);
  });

  it('enable_metric_type, prefix and sanitize_names', () => {
    const t = setup({ enable_metric_type: true, prefix: 'app.', sanitize_names: true });
    t.send('my metric/x:1|c', 'lat:1|ms');
    const m = t.flush().metrics;
    expect(point(m, 'app.my_metric_x', { metric_type: 'counter' })).toBeDefined();
    expect(point(m, 'app.lat', { metric_type: 'timing' })).toBeDefined();
  });

  it('the same name with two types gives two metrics', () => {
    const t = setup();
    t.send('x:1|c\nx:5|g');
    const m = t.flush().metrics;
    expect(find(m, 'x', 'sum').points.length).toBe(1);
    expect(find(m, 'x', 'gauge').points.length).toBe(1);
  });

  it('max_series caps new series per interval; their samples are counted as refused', () => {
    const t = setup({ max_series: 3 });
    for (let i = 0; i < 10; i++) t.send(`s${i}:1|c`);
    t.send('s0:1|c', 's9:1:2:3|ms');
    const r = t.flush();
    expect(r.points).toBe(3);
    expect(t.limited()).toBe(7 + 3);
    expect((point(r.metrics, 's0') as NumberPoint).value).toBe(2);
    // The cap is per interval: a fresh interval takes new series again.
    t.send('s9:1|c');
    expect(t.flush().points).toBe(1);
  });

  it('disabled observers accept and ignore', () => {
    const t = setup({ timer_histogram_mapping: [{ statsd_type: 'timer', observer_type: 'disabled' }] });
    t.send('lat:1|ms');
    expect(t.flush().points).toBe(0);
    expect(t.ignored).toEqual(['disabled']);
  });

  it('flushes into one batch under the statsd scope, and nothing when idle', () => {
    const t = setup();
    t.send('a:1|c\nb:1|g');
    const r = t.flush();
    expect(r.batch.resourceMetrics).toHaveLength(1);
    expect(r.batch.resourceMetrics[0].resource.attributes).toEqual({});
    expect(r.batch.resourceMetrics[0].scopeMetrics[0].scope.name).toBe(SCOPE_NAME);
    expect(t.flush().batch.resourceMetrics).toEqual([]);
  });
});
