import { describe, expect, it } from 'vitest';
import { SelfMetrics } from './self-metrics.ts';
import { parsePromText } from '../../test/harness/prom-text.ts';

describe('self-metrics registry', () => {
  it('renders counters and gauges in Prometheus text, stored and observed alike', () => {
    const r = new SelfMetrics();
    const sent = r.counter('t_sent_total', 'Sent.');
    const h = sent.bind({ exporter: 'a' });
    h.add(3);
    h.add();
    sent.add({ exporter: 'b' }, 2);
    const q = r.gauge('t_queue', 'Queue.');
    q.set({ exporter: 'a' }, 7);
    const dispose = q.observe({ exporter: 'b' }, () => 11);
    const text = r.render();
    expect(text).toContain('# TYPE t_sent_total counter\n');
    expect(text).toContain('# HELP t_queue Queue.\n');
    const samples = parsePromText(text);
    expect(samples).toEqual([
      { name: 't_sent_total', labels: { exporter: 'a' }, value: 4 },
      { name: 't_sent_total', labels: { exporter: 'b' }, value: 2 },
      { name: 't_queue', labels: { exporter: 'a' }, value: 7 },
      { name: 't_queue', labels: { exporter: 'b' }, value: 11 },
    ]);
    expect(sent.sum()).toBe(6);
    expect(q.get({ exporter: 'b' })).toBe(11);
    dispose();
    expect(q.get({ exporter: 'b' })).toBeUndefined();
  });

  it('escapes label values and skips callbacks that throw', () => {
    const r = new SelfMetrics();
    r.counter('t_total', 'x').add({ reason: 'a"b\\c\nd' }, 1);
    r.gauge('t_g', 'g').observe({}, () => {
      throw new Error('gone');
    });
    const text = r.render();
    expect(text).toContain('t_total{reason="a\\"b\\\\c\\nd"} 1');
    expect(text).not.toMatch(/^t_g /m);
  });

  it('refuses one name registered as two kinds', () => {
    const r = new SelfMetrics();
    r.counter('t_x', 'x');
    expect(() => r.gauge('t_x', 'x')).toThrow(/already registered/);
    expect(r.counter('t_x', 'x')).toBe(r.counter('t_x', 'x'));
  });
});
