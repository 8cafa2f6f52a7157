/**
 * A small seedable PRNG (sfc32, 128-bit state) for per-point sampling and
 * randomized rounding. Seeded from `seed` so statistical tests can fix it;
 * from the OS otherwise. Not for anything secret.
 */
import { randomBytes } from 'node:crypto';

export type Random = () => number;

export function createRandom(seed?: number): Random {
  let a: number, b: number, c: number, d: number;
  if (seed === undefined) {
    const buf = randomBytes(16);
    a = buf.readUInt32LE(0);
    b = buf.readUInt32LE(4);
    c = buf.readUInt32LE(8);
    d = buf.readUInt32LE(12);
  } else {
    // splitmix32 spreads a small integer seed over the whole state.
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    a = next();
    b = next();
    c = next();
    d = next();
  }
  const rng = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // Discard the first outputs: sfc32 needs a few rounds to mix a fresh state.
  for (let i = 0; i < 12; i++) rng();
  return rng;
}
