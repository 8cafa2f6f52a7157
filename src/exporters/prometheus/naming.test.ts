import { describe, expect, it } from 'vitest';
import { labelName, metricName, unitWords } from './naming.ts';

describe('metric names', () => {
  const build = (name: string, unit: string, kind: 'counter' | 'gauge' | 'histogram' | 'summary', monotonic = false, ns = '', suffixes = true) =>
    metricName(name, unit, kind, monotonic, ns, suffixes);

  it('spells out UCUM units and drops annotations', () => {
    expect(build('http.server.duration', 'ms', 'histogram')).toBe('http_server_duration_milliseconds');
    expect(build('http.server.duration', 's', 'histogram')).toBe('http_server_duration_seconds');
    expect(build('memory.usage', 'By', 'gauge')).toBe('memory_usage_bytes');
    expect(build('disk.io', 'MiBy', 'gauge')).toBe('disk_io_mebibytes');
    expect(build('requests', '{request}', 'gauge')).toBe('requests');
    expect(build('throughput', 'By/s', 'gauge')).toBe('throughput_bytes_per_second');
    expect(build('rate', '{request}/s', 'gauge')).toBe('rate_per_second');
    expect(build('temp', 'Cel', 'gauge')).toBe('temp_celsius');
    expect(build('odd', 'foo.bar', 'gauge')).toBe('odd_foo_bar');
  });

  it('adds _total to monotonic sums only, and _ratio to unit-1 gauges only', () => {
    expect(build('http.requests', '', 'counter', true)).toBe('http_requests_total');
    expect(build('http.requests.total', '', 'counter', true)).toBe('http_requests_total');
    expect(build('cpu.time', 's', 'counter', true)).toBe('cpu_time_seconds_total');
    expect(build('cpu.utilization', '1', 'gauge')).toBe('cpu_utilization_ratio');
    expect(build('errors', '1', 'counter', true)).toBe('errors_total');
    expect(build('queue.length', '1', 'histogram')).toBe('queue_length');
  });

  it('does not repeat a unit the name already has', () => {
    expect(build('request.duration.seconds', 's', 'histogram')).toBe('request_duration_seconds');
    expect(build('bytes.per_second', 'By/s', 'gauge')).toBe('bytes_per_second');
  });

  it('sanitises characters, collapses runs and guards a leading digit', () => {
    expect(build('my-metric..name', '', 'gauge')).toBe('my_metric_name');
    expect(build('2xx.responses', '', 'gauge')).toBe('_2xx_responses');
    expect(build('a:b', '', 'gauge')).toBe('a:b');
    expect(build('日本.count', '', 'gauge')).toBe('count');
  });

  it('prefixes the namespace', () => {
    expect(build('requests', '', 'counter', true, 'shop')).toBe('shop_requests_total');
    expect(build('requests', 'ms', 'gauge', false, 'shop', false)).toBe('shop_requests');
  });

  it('leaves units and _total off when add_metric_suffixes is false', () => {
    expect(build('http.requests', '', 'counter', true, '', false)).toBe('http_requests');
    expect(build('duration', 'ms', 'histogram', false, '', false)).toBe('duration');
  });

  it('splits units into main and per words', () => {
    expect(unitWords('m/s')).toEqual(['meters', 'per_second']);
    expect(unitWords('1')).toEqual(['', '']);
    expect(unitWords('%')).toEqual(['percent', '']);
  });
});

describe('label names', () => {
  it('sanitises, collapses runs and prefixes a leading digit with key_', () => {
    expect(labelName('http.method')).toBe('http_method');
    expect(labelName('k8s..pod/name')).toBe('k8s_pod_name');
    expect(labelName('2fa')).toBe('key_2fa');
    expect(labelName('__reserved')).toBe('_reserved');
    expect(labelName('...')).toBe('');
  });
});
