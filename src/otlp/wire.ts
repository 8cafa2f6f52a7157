/**
 * A minimal protobuf wire-format reader for the hot decode path. It yields
 * plain JS numbers for 64-bit fields (protobufjs's reader yields `Long`
 * objects when the `long` package is present, which it always is), and it
 * allocates nothing per scalar.
 *
 * Bounds: every length-delimited field is checked against the buffer; nested
 * message decoders check that they end exactly at their declared end. Any
 * violation throws `WireError`, which the decoders turn into a
 * `TRIB_BAD_REQUEST`.
 */

export class WireError extends Error {}

const TWO_32 = 4294967296;

const MAX_CACHED_STRING = 64;
const STRING_CACHE_MASK = 4095;
/** Shared by every reader: at most 4096 short ASCII strings, overwritten on collision. */
const stringCache: Array<string | undefined> = new Array(STRING_CACHE_MASK + 1).fill(undefined);

const MAX_CACHED_BLOCK = 256;
const BLOCK_CACHE_MASK = 4095;
/**
 * Shared by every reader: decoded attribute blocks (a point's run of KeyValue
 * fields) by their bytes, direct-mapped, overwritten on collision. Only blocks
 * whose values are all primitives are kept, so a shallow clone of the
 * template is a full copy. At most 4096 × 256 bytes plus the templates.
 */
const blockBytes: Array<Uint8Array | undefined> = new Array(BLOCK_CACHE_MASK + 1).fill(undefined);
const blockViews: Array<DataView | undefined> = new Array(BLOCK_CACHE_MASK + 1).fill(undefined);
const blockTemplates: Array<Record<string, unknown> | undefined> = new Array(BLOCK_CACHE_MASK + 1).fill(undefined);

export class WireReader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  readonly len: number;
  pos = 0;
  private readonly text: Buffer;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.len = buf.length;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    // Node's Buffer decodes UTF-8 in C++; wrapping shares memory (no copy).
    this.text = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Varint that fits in 32 bits (tags, lengths, enums, uint32, int32). Negative int32s take 10 bytes: the high bytes are skipped. */
  uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    let b = buf[pos++];
    let v = b & 0x7f;
    if (b >= 0x80) {
      b = buf[pos++];
      v |= (b & 0x7f) << 7;
      if (b >= 0x80) {
        b = buf[pos++];
        v |= (b & 0x7f) << 14;
        if (b >= 0x80) {
          b = buf[pos++];
          v |= (b & 0x7f) << 21;
          if (b >= 0x80) {
            b = buf[pos++];
            v |= (b & 0x0f) << 28;
            // Sign-extended int32 or a value too large for 32 bits: drop the remaining bytes.
            for (let i = 0; b >= 0x80 && i < 5; i++) b = buf[pos++];
            if (b >= 0x80) throw new WireError('varint too long');
          }
        }
      }
    }
    if (pos > this.len) throw new WireError('truncated varint');
    this.pos = pos;
    return v >>> 0;
  }

  /** Length prefix of a length-delimited field, checked against the buffer; returns the end offset. */
  delimitedEnd(): number {
    const n = this.uint32();
    const end = this.pos + n;
    if (end > this.len) throw new WireError('length exceeds buffer');
    return end;
  }

  /** Unsigned 64-bit varint as a number (precision beyond 2^53 is lost, as the model accepts). */
  uint64(): number {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    let b: number;
    // Low 28 bits, then the rest accumulate into a float multiplier.
    do {
      b = buf[pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else hi += (b & 0x7f) * 2 ** (shift - 28);
      shift += 7;
    } while (b >= 0x80 && shift < 70);
    if (b >= 0x80) throw new WireError('varint too long');
    if (pos > this.len) throw new WireError('truncated varint');
    this.pos = pos;
    return hi * 268435456 + lo;
  }

  /** Signed (two's complement) 64-bit varint as a number. */
  int64(): number {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b: number;
    let shift = 0;
    do {
      b = buf[pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      shift += 7;
    } while (b >= 0x80 && shift < 70);
    if (b >= 0x80) throw new WireError('varint too long');
    if (pos > this.len) throw new WireError('truncated varint');
    this.pos = pos;
    return (hi | 0) * TWO_32 + (lo >>> 0);
  }

  fixed64(): number {
    const pos = this.pos;
    if (pos + 8 > this.len) throw new WireError('truncated fixed64');
    this.pos = pos + 8;
    return this.view.getUint32(pos + 4, true) * TWO_32 + this.view.getUint32(pos, true);
  }

  sfixed64(): number {
    const pos = this.pos;
    if (pos + 8 > this.len) throw new WireError('truncated sfixed64');
    this.pos = pos + 8;
    return this.view.getInt32(pos + 4, true) * TWO_32 + this.view.getUint32(pos, true);
  }

  double(): number {
    const pos = this.pos;
    if (pos + 8 > this.len) throw new WireError('truncated double');
    this.pos = pos + 8;
    return this.view.getFloat64(pos, true);
  }

  string(): string {
    const end = this.delimitedEnd();
    const start = this.pos;
    this.pos = end;
    const n = end - start;
    if (n === 0) return '';
    if (n > MAX_CACHED_STRING) return this.text.toString('utf8', start, end);
    // Short strings (attribute keys and most values) repeat across points and
    // requests: look them up in a small direct-mapped cache, checked byte by
    // byte, instead of paying ~100 ns for a native decode each time.
    const buf = this.buf;
    let h = n;
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (c > 0x7f) return this.text.toString('utf8', start, end);
      h = Math.imul(h ^ c, 0x01000193);
    }
    const slot = (h ^ (h >>> 16)) & STRING_CACHE_MASK;
    const cached = stringCache[slot];
    if (cached !== undefined && cached.length === n) {
      let i = 0;
      while (i < n && cached.charCodeAt(i) === buf[start + i]) i++;
      if (i === n) return cached;
    }
    // ASCII only here, so latin1 decodes the same as UTF-8, and faster.
    const s = this.text.toString('latin1', start, end);
    stringCache[slot] = s;
    return s;
  }

  /** Slot of bytes [start, end) in the block cache; hashed four bytes at a time. */
  private blockSlot(start: number, end: number): number {
    const view = this.view;
    let h = end - start;
    let i = start;
    for (; i + 4 <= end; i += 4) h = Math.imul(h ^ view.getInt32(i, true), 0x01000193);
    for (; i < end; i++) h = Math.imul(h ^ this.buf[i], 0x01000193);
    return (h ^ (h >>> 15)) & BLOCK_CACHE_MASK;
  }

  /** The template decoded earlier from exactly the bytes [start, end), if still cached. Clone it before use. */
  cachedBlock<T extends object>(start: number, end: number): T | undefined {
    const n = end - start;
    if (n > MAX_CACHED_BLOCK) return undefined;
    const slot = this.blockSlot(start, end);
    const bytes = blockBytes[slot];
    if (bytes === undefined || bytes.length !== n) return undefined;
    const view = this.view;
    const other = blockViews[slot]!;
    let i = 0;
    for (; i + 4 <= n; i += 4) if (view.getInt32(start + i, true) !== other.getInt32(i, true)) return undefined;
    for (; i < n; i++) if (this.buf[start + i] !== bytes[i]) return undefined;
    return blockTemplates[slot] as T;
  }

  /** Remember what bytes [start, end) decoded to, when all its values are primitives (a shallow clone is then a full copy). */
  cacheBlock(start: number, end: number, decoded: Record<string, unknown>): void {
    const n = end - start;
    if (n > MAX_CACHED_BLOCK) return;
    for (const k in decoded) {
      const v = decoded[k];
      if (typeof v === 'object' && v !== null) return;
    }
    const slot = this.blockSlot(start, end);
    // A copy: Buffer#slice would be a view into the request, whose memory may be pooled and reused.
    const bytes = new Uint8Array(n);
    bytes.set(this.buf.subarray(start, end));
    blockBytes[slot] = bytes;
    blockViews[slot] = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    blockTemplates[slot] = { ...decoded };
  }

  /** A copy of a bytes field (the request buffer is not kept alive by the batch). */
  bytes(): Uint8Array {
    const end = this.delimitedEnd();
    // A plain Uint8Array copy: Buffer#slice would be a view into the request.
    const out = new Uint8Array(end - this.pos);
    out.set(this.buf.subarray(this.pos, end));
    this.pos = end;
    return out;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.uint64();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.delimitedEnd();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        // Groups (3/4) are not used by OTLP; anything else is not protobuf.
        throw new WireError(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.len) throw new WireError('truncated field');
  }
}
