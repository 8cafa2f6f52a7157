/**
 * The series hash behind per-series sampling. It must give the same answer in
 * every sidecar, after every restart and in every future version, so that a
 * series kept today is kept tomorrow and by every pod of a fleet. Its
 * definition is therefore fixed here and pinned by tests:
 *
 *   FNV-1a, 32 bits, over the UTF-16 code units of
 *     name, 0x00,
 *     then for each attribute key in ascending code-unit order:
 *       key, 0x01, tag, value, 0x02
 *   where tag/value are: 's' + the string; 'i' or 'd' + String(number) (integer
 *   or not); 'b' + "true"/"false"; 'z' for null; 'y' + bytes as code units;
 *   'j' + JSON.stringify(value) for arrays and maps;
 *   then murmur3's 32-bit finaliser (fmix32), because FNV-1a alone mixes the
 *   last characters poorly into the high bits and series often differ only in
 *   a trailing digit.
 *
 * The resource is not part of the identity: the same name and attributes are
 * kept or dropped alike on every host.
 */
import type { AttributeValue, Attributes } from '../../model/metrics.ts';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnvString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h;
}

function fnvCode(h: number, code: number): number {
  h ^= code;
  return Math.imul(h, FNV_PRIME);
}

function fnvValue(h: number, v: AttributeValue): number {
  if (typeof v === 'string') return fnvString(fnvCode(h, 0x73 /* s */), v);
  if (typeof v === 'number') return fnvString(fnvCode(h, Number.isInteger(v) ? 0x69 /* i */ : 0x64 /* d */), String(v));
  if (typeof v === 'boolean') return fnvString(fnvCode(h, 0x62 /* b */), v ? 'true' : 'false');
  if (v === null) return fnvCode(h, 0x7a /* z */);
  if (v instanceof Uint8Array) {
    h = fnvCode(h, 0x79 /* y */);
    for (let i = 0; i < v.length; i++) h = fnvCode(h, v[i]);
    return h;
  }
  return fnvString(fnvCode(h, 0x6a /* j */), JSON.stringify(v));
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The series hash as an unsigned 32-bit integer. */
export function seriesHash(name: string, attrs: Attributes): number {
  let h = fnvCode(fnvString(FNV_OFFSET, name), 0);
  const keys = Object.keys(attrs);
  if (keys.length > 1) keys.sort();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    h = fnvCode(fnvValue(fnvCode(fnvString(h, k), 1), attrs[k]), 2);
  }
  return fmix32(h);
}

/** The series hash mapped to [0, 1): a series is kept at rate r when this is below r. */
export function seriesUnit(name: string, attrs: Attributes): number {
  return seriesHash(name, attrs) / 4294967296;
}
