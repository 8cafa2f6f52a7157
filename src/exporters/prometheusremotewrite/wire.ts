/**
 * A hand-written encoder for remote write's `WriteRequest`, straight from
 * label pairs into one buffer (two passes: sizes, then bytes). It replaces
 * protobufjs' reflection encoder on the hot path, which spent most of its
 * time building and walking one object per label; the schema in proto.ts
 * stays the reference and decodes in tests.
 *
 * Field numbers (prompb): WriteRequest.timeseries = 1; TimeSeries.labels = 1,
 * samples = 2; Label.name = 1, value = 2; Sample.value = 1 (double),
 * timestamp = 2 (int64).
 */
import type { LabelPairs } from '../prometheus/labels.ts';

/** One series with one sample: what the converter produces per point. */
export interface SeriesSample {
  /** Sorted by name. */
  pairs: LabelPairs;
  value: number;
  timestampMs: number;
}

function varintLen(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let len = 5;
  n = Math.floor(n / 0x800000000);
  while (n > 0) {
    len++;
    n = Math.floor(n / 128);
  }
  return len;
}

/** UTF-8 length, with an ASCII fast path (label names always, values nearly always). */
function utf8Len(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

/** int64 as protobuf writes it: negative values take ten bytes (two's complement). */
function int64Len(n: number): number {
  return n < 0 ? 10 : varintLen(n);
}

export function encodeSeries(series: SeriesSample[]): Buffer {
  // Pass 1: every length, kept so pass 2 does not measure strings again.
  const strLens: number[] = [];
  const tsLens = new Array<number>(series.length);
  let total = 0;
  for (let s = 0; s < series.length; s++) {
    const e = series[s];
    let tsLen = 0;
    const pairs = e.pairs;
    for (let i = 0; i < pairs.length; i++) {
      const nl = utf8Len(pairs[i][0]);
      const vl = utf8Len(pairs[i][1]);
      strLens.push(nl, vl);
      const labelLen = 1 + varintLen(nl) + nl + 1 + varintLen(vl) + vl;
      tsLen += 1 + varintLen(labelLen) + labelLen;
    }
    const sampleLen = 9 + (e.timestampMs !== 0 ? 1 + int64Len(e.timestampMs) : 0);
    tsLen += 1 + varintLen(sampleLen) + sampleLen;
    tsLens[s] = tsLen;
    total += 1 + varintLen(tsLen) + tsLen;
  }

  // Pass 2: bytes.
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  let li = 0;
  const varint = (n: number) => {
    while (n >= 0x80) {
      buf[pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    buf[pos++] = n;
  };
  const str = (s: string, len: number) => {
    varint(len);
    // ASCII (len === s.length) is written as latin1, the cheapest native copy.
    buf.write(s, pos, len, len === s.length ? 'latin1' : 'utf8');
    pos += len;
  };
  for (let s = 0; s < series.length; s++) {
    const e = series[s];
    buf[pos++] = 0x0a; // timeseries
    varint(tsLens[s]);
    const pairs = e.pairs;
    for (let i = 0; i < pairs.length; i++) {
      const name = pairs[i][0];
      const value = pairs[i][1];
      const nl = strLens[li++];
      const vl = strLens[li++];
      buf[pos++] = 0x0a; // labels
      varint(1 + varintLen(nl) + nl + 1 + varintLen(vl) + vl);
      buf[pos++] = 0x0a; // name
      str(name, nl);
      buf[pos++] = 0x12; // value
      str(value, vl);
    }
    buf[pos++] = 0x12; // samples
    varint(9 + (e.timestampMs !== 0 ? 1 + int64Len(e.timestampMs) : 0));
    buf[pos++] = 0x09; // value, fixed64
    buf.writeDoubleLE(e.value, pos);
    pos += 8;
    if (e.timestampMs !== 0) {
      buf[pos++] = 0x10; // timestamp, varint
      if (e.timestampMs < 0) {
        let v = BigInt.asUintN(64, BigInt(e.timestampMs));
        for (let i = 0; i < 9; i++) {
          buf[pos++] = Number(v & 0x7fn) | 0x80;
          v >>= 7n;
        }
        buf[pos++] = Number(v);
      } else {
        varint(e.timestampMs);
      }
    }
  }
  return buf;
}
