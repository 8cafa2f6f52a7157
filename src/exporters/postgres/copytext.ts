/**
 * COPY text format pieces shared by the points and the rollup parts: NULL,
 * numbers, arrays, escaping, and the buffer a batch's rows are written into.
 */

export const NULL = '\\N';

export function optNum(v: number | undefined | null): string {
  return v === undefined || v === null ? NULL : String(v);
}

/** bigint columns: counts may be weights (sampled StatsD), stored rounded. */
export function count(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v));
}

export function arrayText(values: number[], integers: boolean): string {
  if (values.length === 0) return '{}';
  let s = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) s += ',';
    s += integers ? count(values[i]) : String(values[i]);
  }
  return s + '}';
}

export function allIntegers(values: number[]): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isInteger(values[i])) return false;
  return true;
}

export function sameNumbers(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** COPY text format: JSON never holds raw tabs or newlines, only backslashes to double. */
export function copyEscapeJson(s: string): string {
  return s.includes('\\') ? s.replace(/\\/g, '\\\\') : s;
}

const NEEDS_ESCAPE = /[\\\t\n\r\u0000]/;

export function copyEscape(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[\\\t\n\r\u0000]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : ''));
}

/**
 * Rows written as UTF-8 straight into one growing Buffer, a line at a time:
 * no array of lines, no joined string of the whole batch (a large-object
 * allocation), no second UTF-8 pass to send it or to hash it.
 */
export class CopyBuffer {
  private buf: Buffer;
  private at = 0;
  rows = 0;

  constructor(sizeHint: number) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(4096, sizeHint));
  }

  /** One row, ending in '\n'. */
  line(s: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8: reserving that much means write() never truncates.
    const worst = this.at + s.length * 3;
    if (worst > this.buf.length) this.grow(worst);
    this.at += this.buf.write(s, this.at);
    this.rows++;
  }

  get length(): number {
    return this.at;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  private grow(min: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(min, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
}
