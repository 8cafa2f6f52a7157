/**
 * Finds where each key of a TOML document is written. smol-toml parses the
 * values but reports no positions, so this scanner walks the text once for
 * structure only: table headers (`[a."b/c"]`, `[[a]]`), dotted keys, inline
 * tables and arrays (also across lines), and skips over every kind of string
 * and comment. It trusts the document to be valid TOML (smol-toml has
 * accepted it already) and gives up quietly on anything it cannot follow:
 * positions are a help for messages, never a reason to fail.
 */
import type { Pos, PosNode } from './positions.ts';
import { child, setChild } from './positions.ts';

type Seg = string | number;

export function locateToml(file: string, text: string): PosNode {
  const root: PosNode = { key: { file, line: 1, col: 1 }, value: { file, line: 1, col: 1 } };
  try {
    new TomlScanner(file, text, root).document();
  } catch {
    // Keep what was found so far; missing keys fall back to their nearest ancestor.
  }
  return root;
}

const BARE_KEY = /[A-Za-z0-9_-]/;

class TomlScanner {
  private readonly file: string;
  private readonly text: string;
  private readonly root: PosNode;
  private i = 0;
  private line = 1;
  private lineStart = 0;
  /** Array-of-tables paths (resolved, joined) → index of their last element. */
  private readonly arrayTables = new Map<string, number>();

  constructor(file: string, text: string, root: PosNode) {
    this.file = file;
    this.text = text;
    this.root = root;
  }

  document(): void {
    let table: Seg[] = [];
    for (let guard = 0; guard < this.text.length + 1; guard++) {
      this.skipBlank(true);
      if (this.i >= this.text.length) return;
      const c = this.text[this.i];
      if (c === '[') {
        const isArray = this.text[this.i + 1] === '[';
        this.i += isArray ? 2 : 1;
        this.skipBlank(false);
        const keys = this.key();
        this.skipBlank(false);
        this.i += isArray ? 2 : 1;
        table = isArray ? this.arrayTableHeader(keys) : this.record([], keys, keys[keys.length - 1].pos, true);
      } else {
        this.keyValue(table);
      }
      this.skipToLineEnd();
    }
  }

  /** `[[a.b]]`: a new element of the array at a.b. */
  private arrayTableHeader(keys: Array<{ name: string; pos: Pos }>): Seg[] {
    const parent = this.record([], keys.slice(0, -1), keys[keys.length - 1].pos, false);
    const last = keys[keys.length - 1];
    const arrPath = [...parent, last.name];
    const id = arrPath.join('\u0000');
    const index = (this.arrayTables.get(id) ?? -1) + 1;
    this.arrayTables.set(id, index);
    this.put([...parent], last.name, last.pos, last.pos, false);
    this.put(arrPath, index, last.pos, last.pos, true);
    return [...arrPath, index];
  }

  /** `a.b.c = value` relative to `base`. */
  private keyValue(base: Seg[]): void {
    const keys = this.key();
    this.skipBlank(false);
    if (this.text[this.i] !== '=') throw new Error('expected =');
    this.i++;
    this.skipBlank(false);
    const valuePos = this.pos();
    const parent = this.record(base, keys.slice(0, -1), valuePos, false);
    const last = keys[keys.length - 1];
    this.put(parent, last.name, last.pos, valuePos, true);
    this.value([...parent, last.name]);
  }

  /**
   * Record the positions of dotted key segments below `base` and return the
   * resolved path (with the current index of any array of tables on the way).
   */
  private record(base: Seg[], keys: Array<{ name: string; pos: Pos }>, valuePos: Pos, explicitLast: boolean): Seg[] {
    let path = [...base];
    keys.forEach((k, idx) => {
      const explicit = explicitLast && idx === keys.length - 1;
      this.put(path, k.name, k.pos, explicit ? k.pos : valuePos, explicit);
      path = [...path, k.name];
      const arrayIndex = this.arrayTables.get(path.join('\u0000'));
      if (arrayIndex !== undefined) path.push(arrayIndex);
    });
    return path;
  }

  private put(parentPath: Seg[], seg: Seg, key: Pos, value: Pos, explicit: boolean): void {
    let node = this.root;
    for (const s of parentPath) {
      let next = child(node, s);
      if (!next) {
        next = { key, value: key };
        setChild(node, s, next);
      }
      node = next;
    }
    const existing = child(node, seg);
    if (existing && !explicit) return;
    if (existing) {
      existing.key = key;
      existing.value = value;
    } else setChild(node, seg, { key, value });
  }

  /** Skip one value, recording the positions inside inline tables and arrays. */
  private value(path: Seg[]): void {
    const c = this.text[this.i];
    if (c === '{') {
      this.i++;
      for (let guard = 0; guard < this.text.length; guard++) {
        this.skipBlank(true);
        if (this.text[this.i] === '}') {
          this.i++;
          return;
        }
        if (this.text[this.i] === ',') {
          this.i++;
          continue;
        }
        this.keyValue(path);
      }
      throw new Error('unterminated inline table');
    }
    if (c === '[') {
      this.i++;
      let index = 0;
      for (let guard = 0; guard < this.text.length; guard++) {
        this.skipBlank(true);
        if (this.text[this.i] === ']') {
          this.i++;
          return;
        }
        if (this.text[this.i] === ',') {
          this.i++;
          continue;
        }
        const p = this.pos();
        this.put(path, index, p, p, true);
        this.value([...path, index]);
        index++;
      }
      throw new Error('unterminated array');
    }
    if (c === '"' || c === "'") {
      this.string();
      return;
    }
    // Numbers, booleans, dates (which may contain one space): up to a delimiter.
    while (this.i < this.text.length && !/[,\]}#\n\r]/.test(this.text[this.i])) this.i++;
  }

  /** A dotted key: bare, "basic" or 'literal' segments. */
  private key(): Array<{ name: string; pos: Pos }> {
    const out: Array<{ name: string; pos: Pos }> = [];
    for (;;) {
      this.skipBlank(false);
      const pos = this.pos();
      const c = this.text[this.i];
      let name: string;
      if (c === '"' || c === "'") name = this.string();
      else {
        const start = this.i;
        while (this.i < this.text.length && BARE_KEY.test(this.text[this.i])) this.i++;
        if (this.i === start) throw new Error('expected a key');
        name = this.text.slice(start, this.i);
      }
      out.push({ name, pos });
      this.skipBlank(false);
      if (this.text[this.i] !== '.') return out;
      this.i++;
    }
  }

  /** Skip a string of any of the four kinds; returns its decoded value (exact for keys, which are single-line). */
  private string(): string {
    const t = this.text;
    const q = t[this.i];
    const multi = t.startsWith(q.repeat(3), this.i);
    this.i += multi ? 3 : 1;
    let out = '';
    while (this.i < t.length) {
      const c = t[this.i];
      if (q === '"' && c === '\\') {
        // A line-ending backslash: let the loop count the newlines it swallows.
        if (multi && /[ \t\r\n]/.test(t[this.i + 1] ?? '')) {
          this.i++;
          continue;
        }
        out += unescape(t, this.i);
        this.i += escapeLength(t, this.i);
        continue;
      }
      if (multi ? t.startsWith(q.repeat(3), this.i) : c === q) {
        this.i += multi ? 3 : 1;
        // A multi-line string may end with up to two extra quotes that belong to it.
        if (multi) for (let k = 0; k < 2 && t[this.i] === q; k++) this.i++;
        return out;
      }
      if (c === '\n') this.newline(this.i + 1);
      out += c;
      this.i++;
    }
    throw new Error('unterminated string');
  }

  /** Spaces, tabs, comments and (when allowed) newlines. */
  private skipBlank(newlines: boolean): void {
    const t = this.text;
    while (this.i < t.length) {
      const c = t[this.i];
      if (c === ' ' || c === '\t' || c === '\r') this.i++;
      else if (c === '#') while (this.i < t.length && t[this.i] !== '\n') this.i++;
      else if (c === '\n' && newlines) {
        this.i++;
        this.newline(this.i);
      } else return;
    }
  }

  private skipToLineEnd(): void {
    this.skipBlank(false);
    if (this.text[this.i] === '\n') {
      this.i++;
      this.newline(this.i);
    }
  }

  private newline(nextLineStart: number): void {
    this.line++;
    this.lineStart = nextLineStart;
  }

  private pos(): Pos {
    return { file: this.file, line: this.line, col: this.i - this.lineStart + 1 };
  }
}

const ESCAPES: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', e: '\x1b', '"': '"', '\\': '\\' };

function escapeLength(t: string, i: number): number {
  const c = t[i + 1];
  if (c === 'u') return 6;
  if (c === 'U') return 10;
  if (c === 'x') return 4;
  return 2;
}

function unescape(t: string, i: number): string {
  const c = t[i + 1];
  if (c === 'u' || c === 'U' || c === 'x') {
    const hex = t.slice(i + 2, i + escapeLength(t, i));
    const code = Number.parseInt(hex, 16);
    return Number.isFinite(code) ? String.fromCodePoint(code) : '';
  }
  return ESCAPES[c] ?? '';
}
