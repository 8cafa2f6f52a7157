/**
 * Reading config files (format by extension), merging them in order, and
 * applying `--set` items last, keeping the position each key finally came from.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ConfigIssue } from './model.ts';
import type { PosNode, Source } from './positions.ts';
import { child, isPlainObject, setChild, uniformPos } from './positions.ts';
import { parseTomlSource } from './toml-source.ts';
import { parseYamlSource } from './yaml-source.ts';

/** The file name `--set` items report in issues. */
export const SET_FILE = '--set';

export async function readSource(file: string): Promise<{ source?: Source; issues: ConfigIssue[] }> {
  const format = formatIssueFor(file);
  if (format) return { issues: [format] };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    return { issues: [{ file, line: 1, col: 1, path: '(root)', message: `cannot read config file: ${reason}`, severity: 'error' }] };
  }
  return parseSource(file, text);
}

export function parseSource(file: string, text: string): { source?: Source; issues: ConfigIssue[] } {
  const format = formatIssueFor(file);
  if (format) return { issues: [format] };
  return extname(file).toLowerCase() === '.toml' ? parseTomlSource(file, text) : parseYamlSource(file, text);
}

function formatIssueFor(file: string): ConfigIssue | undefined {
  const ext = extname(file).toLowerCase();
  if (ext === '.toml' || ext === '.yaml' || ext === '.yml') return undefined;
  return { file, line: 1, col: 1, path: '(root)', message: `unknown config format "${ext}": use .yaml, .yml or .toml`, severity: 'error' };
}

/**
 * `--set key.path=value`: dots separate keys (a component ID such as
 * `otlp_http/upstream` is one key), the value is read as a YAML scalar or
 * flow collection. Reported as file `--set`, line = item number.
 */
export function parseSetItem(item: string, index: number): { source?: Source; issue?: ConfigIssue } {
  const line = index + 1;
  const eq = item.indexOf('=');
  const keyPos = { file: SET_FILE, line, col: 1 };
  const fail = (message: string): { issue: ConfigIssue } => ({ issue: { ...keyPos, path: item.slice(0, Math.max(eq, 0)) || '(root)', message, severity: 'error' } });
  if (eq <= 0) return fail(`"${item}" must be key.path=value`);
  const keys = item.slice(0, eq).split('.');
  if (keys.some((k) => k.trim() === '')) return fail(`"${item.slice(0, eq)}" has an empty key`);
  const valuePos = { file: SET_FILE, line, col: eq + 2 };
  let value: unknown;
  try {
    value = parseYaml(item.slice(eq + 1));
  } catch (err) {
    return { issue: { ...valuePos, path: keys.join('.'), message: `invalid value: ${(err as Error).message.split('\n')[0]}`, severity: 'error' } };
  }
  // Build {a: {b: {c: value}}} with positions.
  let node = uniformPos(value, keyPos, valuePos);
  for (let k = keys.length - 1; k >= 0; k--) {
    value = { [keys[k]]: value };
    const parent: PosNode = { key: keyPos, value: keyPos };
    setChild(parent, keys[k], node);
    node = parent;
  }
  return { source: { value, pos: node } };
}

/** Deep merge, later wins: maps merge key by key, arrays and scalars replace. */
export function mergeSources(sources: Source[]): Source {
  let acc: Source = sources[0];
  for (const next of sources.slice(1)) {
    // The root keeps the first file's position: it is the fallback for keys written nowhere.
    acc = merge(acc.value, acc.pos, next.value, next.pos);
  }
  return acc;
}

function merge(a: unknown, aPos: PosNode, b: unknown, bPos: PosNode): Source {
  if (!isPlainObject(a) || !isPlainObject(b)) return { value: b, pos: bPos };
  const value: Record<string, unknown> = { ...a };
  // A map written in both keeps its first position: that is where the component (or section) is defined;
  // its leaves carry the position of the file that set them last.
  const pos: PosNode = { key: aPos.key, value: aPos.value, children: new Map(aPos.children) };
  for (const [k, bv] of Object.entries(b)) {
    const bChild = child(bPos, k) ?? { key: bPos.key, value: bPos.value };
    if (Object.hasOwn(a, k)) {
      const aChild = child(aPos, k) ?? { key: aPos.key, value: aPos.value };
      const merged = merge(a[k], aChild, bv, bChild);
      setOwn(value, k, merged.value);
      setChild(pos, k, merged.pos);
    } else {
      setOwn(value, k, bv);
      setChild(pos, k, bChild);
    }
  }
  return { value, pos };
}

/** Assign without ever touching a prototype (a key may be spelled `__proto__`). */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}
