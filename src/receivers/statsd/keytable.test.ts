import { describe, expect, it } from 'vitest';
import { HASH_SEED, RawKeyTable, scan, scannedHash } from './keytable.ts';

const view = (b: Buffer) => new DataView(b.buffer, b.byteOffset, b.length);

function scanText(text: string, from: number, a: string, b: string): [number, number] {
  const buf = Buffer.from(text, 'latin1');
  const at = scan(buf, view(buf), from, buf.length, HASH_SEED, a.charCodeAt(0), b.charCodeAt(0));
  return [at, scannedHash];
}

describe('scan', () => {
  it('finds the first of two bytes at any offset, or the end', () => {
    const text = 'abcdefgh:ijkl\nmnop';
    for (let from = 0; from <= text.length; from++) {
      const colon = text.indexOf(':', from);
      const nl = text.indexOf('\n', from);
      const want = [colon, nl].filter((i) => i !== -1).sort((x, y) => x - y)[0] ?? text.length;
      expect(scanText(text, from, ':', '\n')[0]).toBe(want);
    }
    expect(scanText('\u00ff\u0080\u0001x\u00ff', 0, '\n', '\n')[0]).toBe(5);
  });

  it('hashes the same bytes the same wherever they sit, and different bytes apart', () => {
    const hashes = new Set<number>();
    for (const key of ['n', 'na', 'nam', 'name', 'name.', 'name.x', 'name.xyz12']) {
      const seen = new Set<number>();
      // Before a delimiter in mid-buffer, at the very end, after 0–3 bytes of padding.
      for (let pad = 0; pad < 4; pad++) {
        seen.add(scanText('_'.repeat(pad) + key + ':1|c\nmore', pad, ':', '\n')[1]);
        seen.add(scanText('_'.repeat(pad) + key, pad, ':', '\n')[1]);
      }
      expect(seen.size).toBe(1);
      hashes.add([...seen][0]);
    }
    expect(hashes.size).toBe(7);
  });
});

describe('RawKeyTable', () => {
  // Keys are (name, tail) ranges of a line; tests give every key the same hash so only the bytes tell them apart.
  function key(line: string) {
    const buf = Buffer.from(line, 'latin1');
    const colon = line.indexOf(':');
    const pipe = line.indexOf('|');
    return { buf, v: view(buf), colon, pipe, end: line.length };
  }

  it('finds what was added by its exact bytes, even when hashes collide', () => {
    const t = new RawKeyTable<string>();
    const lines = ['a|x:1|c', 'a:1|x|c', 'a:2|c', 'ab:2|c', 'a:2|cc', 'b:1|c|#k:v', 'b:1|c|#k:w'];
    for (const l of lines) {
      const k = key(l);
      expect(t.find(k.v, 0, k.colon, k.pipe, k.end, 7)).toBeUndefined();
      t.add(k.buf, 0, k.colon, k.pipe, k.end, 7, l);
    }
    for (const l of lines) {
      const k = key(l);
      expect(t.find(k.v, 0, k.colon, k.pipe, k.end, 7)).toBe(l);
    }
    // The value does not take part in the key.
    const k = key('ab:99|c');
    expect(t.find(k.v, 0, k.colon, k.pipe, k.end, 7)).toBe('ab:2|c');
    expect(t.size).toBe(lines.length);
  });

  it('grows past its first size, then clear forgets everything and gives oversized storage back', () => {
    const t = new RawKeyTable<number>();
    const n = 5000;
    const keys = Array.from({ length: n }, (_, i) => key(`metric.${i}:1|c|#host:h${i % 7}`));
    keys.forEach((k, i) => t.add(k.buf, 0, k.colon, k.pipe, k.end, Math.imul(i, 0x9e3779b1), i));
    keys.forEach((k, i) => expect(t.find(k.v, 0, k.colon, k.pipe, k.end, Math.imul(i, 0x9e3779b1))).toBe(i));
    t.clear();
    expect(t.size).toBe(0);
    expect(t.find(keys[1].v, 0, keys[1].colon, keys[1].pipe, keys[1].end, Math.imul(1, 0x9e3779b1))).toBeUndefined();
    for (let round = 0; round < 4; round++) t.clear();
    const small = key('x:1|c');
    t.add(small.buf, 0, small.colon, small.pipe, small.end, 1, 42);
    expect(t.find(small.v, 0, small.colon, small.pipe, small.end, 1)).toBe(42);
  });
});
