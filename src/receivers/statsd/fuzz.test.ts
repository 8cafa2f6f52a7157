/**
 * Property tests: random and mutated datagrams never make the aggregator
 * throw, and every non-empty line is accounted for exactly once: accepted
 * (aggregated, ignored or refused over the cap) or counted as bad.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { countLines, StatsdAggregator } from './aggregator.ts';
import { statsdConfigSchema } from './config.ts';

function harness(raw: Record<string, unknown> = {}) {
  let bad = 0;
  let ignored = 0;
  const agg = new StatsdAggregator(statsdConfigSchema.parse(raw), {
    badLine: () => bad++,
    ignored: () => ignored++,
    seriesLimited: () => {},
  });
  return { agg, bad: () => bad, ignored: () => ignored };
}

const name = fc.stringMatching(/^[a-z][a-z0-9_.]{0,12}$/);
const num = fc.oneof(fc.integer({ min: -1e6, max: 1e6 }).map(String), fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }).map(String));
const type = fc.constantFrom('c', 'g', 'ms', 'h', 'd', 's');
const tag = fc.tuple(fc.stringMatching(/^[a-z]{1,6}$/), fc.option(fc.stringMatching(/^[a-z0-9:/]{0,6}$/))).map(([k, v]) => (v === null ? k : `${k}:${v}`));
const field = fc.oneof(
  fc.double({ min: 0.01, max: 1, noNaN: true }).map((r) => `@${r}`),
  fc.array(tag, { maxLength: 4 }).map((t) => `#${t.join(',')}`),
  fc.integer({ min: 0, max: 2_000_000_000 }).map((t) => `T${t}`),
  fc.stringMatching(/^[a-f0-9]{1,12}$/).map((c) => `c:${c}`),
  fc.constantFrom('e:it-false,cn-x', 'card:low', 'card:high'),
);
const validLine = fc
  .tuple(name, fc.array(num, { minLength: 1, maxLength: 3 }), type, fc.array(field, { maxLength: 4 }))
  .map(([n, vs, t, fs]) => [`${n}:${(t === 's' ? vs.slice(0, 1) : vs).join(':')}|${t}`, ...fs].join('|'));
const specialLine = fc.constantFrom('_e{5,4}:title|text|#a:b', '_sc|redis|2|#env:dev|m:down');

/** Flip, insert or delete a few characters, the way a truncated or corrupted datagram looks. */
const mutated = fc
  .tuple(validLine, fc.array(fc.tuple(fc.nat(), fc.constantFrom('delete', 'insert', 'replace'), fc.constantFrom(':', '|', '#', '@', ',', 'T', 'x', '-', '.', '\u00ff', '\u0000', '\r')), { maxLength: 4 }))
  .map(([line, edits]) => {
    let s = line;
    for (const [pos, op, ch] of edits) {
      const i = s.length === 0 ? 0 : pos % s.length;
      s = op === 'delete' ? s.slice(0, i) + s.slice(i + 1) : op === 'insert' ? s.slice(0, i) + ch + s.slice(i) : s.slice(0, i) + ch + s.slice(i + 1);
    }
    return s;
  });

function nonEmptyLines(datagram: Buffer): number {
  return datagram
    .toString('latin1')
    .split('\n')
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    .filter((l) => l.length > 0).length;
}

describe('statsd fuzz', () => {
  it('valid lines are all accepted', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(validLine, specialLine), { minLength: 1, maxLength: 20 }), (lines) => {
        const h = harness();
        const n = h.agg.ingest(Buffer.from(lines.join('\n')));
        expect(n).toBe(lines.length);
        expect(h.bad()).toBe(0);
        expect(() => h.agg.flush()).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it('mutated and random datagrams never throw, and each line is accepted or counted as bad', () => {
    const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
    const text = fc.array(fc.oneof(validLine, mutated, specialLine, fc.string({ maxLength: 40 })), { maxLength: 20 }).map((ls) => Buffer.from(ls.join('\n'), 'utf8'));
    fc.assert(
      fc.property(fc.oneof(bytes, text), fc.boolean(), (datagram, simpleTags) => {
        const h = harness({ enable_simple_tags: simpleTags, max_series: 5 });
        let accepted = 0;
        const agg = h.agg;
        const n = agg.ingest(datagram);
        expect(n).toBe(nonEmptyLines(datagram));
        // What a datagram dropped unparsed (memory pressure) is counted as.
        expect(countLines(datagram)).toBe(n);
        accepted = n - h.bad();
        expect(accepted).toBeGreaterThanOrEqual(0);
        const { points } = agg.flush();
        expect(points).toBeLessThanOrEqual(accepted);
      }),
      { numRuns: 2000 },
    );
  });

  it('a line is bad on its own: the valid lines around it still aggregate', () => {
    fc.assert(
      fc.property(mutated, fc.integer({ min: 1, max: 1000 }), (junk, v) => {
        const h = harness();
        h.agg.ingest(Buffer.from(`before:${v}|c\n${junk.replace(/\n/g, '')}\nafter:${v}|c`));
        const metrics = h.agg.flush().batch.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
        const before = metrics.find((m) => m.name === 'before' && m.type === 'sum');
        const after = metrics.find((m) => m.name === 'after' && m.type === 'sum');
        expect(before?.points.reduce((a, p) => a + (p as { value: number }).value, 0)).toBeGreaterThanOrEqual(v);
        expect(after?.points.reduce((a, p) => a + (p as { value: number }).value, 0)).toBeGreaterThanOrEqual(v);
      }),
      { numRuns: 500 },
    );
  });
});
