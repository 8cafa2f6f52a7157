/**
 * Where each key of a config came from. A config source is a plain value plus
 * a tree of positions shaped like it, so merging files and `--set` keeps, for
 * every key path, the file/line/column it finally came from, and an error
 * about a key that is not written (a missing required key, a default) can
 * point at its nearest written ancestor.
 */

export interface Pos {
  file: string;
  line: number;
  col: number;
}

export interface PosNode {
  /** Where the key is written (a table header for TOML tables). */
  key: Pos;
  /** Where its value starts. */
  value: Pos;
  /** Children by key (array elements by their index as a string). */
  children?: Map<string, PosNode>;
}

/** A key path: strings are map keys, numbers are array indices. */
export type KeyPath = ReadonlyArray<string | number>;

/** A parsed config file (or `--set` item). */
export interface Source {
  value: unknown;
  pos: PosNode;
}

export function child(node: PosNode, seg: string | number): PosNode | undefined {
  return node.children?.get(String(seg));
}

export function setChild(node: PosNode, seg: string | number, c: PosNode): void {
  (node.children ??= new Map()).set(String(seg), c);
}

/**
 * Position for an issue at `path`: the key's (or value's) position when the
 * path is written, else the key of its nearest written ancestor.
 */
export function locate(root: PosNode, path: KeyPath, which: 'key' | 'value'): Pos {
  let node = root;
  for (const seg of path) {
    const next = child(node, seg);
    if (!next) return node.key;
    node = next;
  }
  return node[which];
}

/** Whether the path is written in the position tree (i.e. present in the config). */
export function hasPath(root: PosNode, path: KeyPath): boolean {
  let node: PosNode | undefined = root;
  for (const seg of path) {
    node = node && child(node, seg);
    if (!node) return false;
  }
  return true;
}

/** `exporters.otlp_http/upstream.headers`, with array indices as `[0]`. */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out === '' ? '(root)' : out;
}

/** A position tree where every node of `value` sits at `pos` (for `--set` values). */
export function uniformPos(value: unknown, key: Pos, valuePos: Pos = key): PosNode {
  const node: PosNode = { key, value: valuePos };
  if (Array.isArray(value)) value.forEach((v, i) => setChild(node, i, uniformPos(v, valuePos)));
  else if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) setChild(node, k, uniformPos(v, valuePos));
  return node;
}

/** A map as parsed from YAML/TOML (TOML's objects have a null prototype). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
