/**
 * YAML config files: the value (YAML 1.2 core schema, as otelcol's go-yaml
 * reads it, with `<<` merge keys) and the position of every key.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import type { ConfigIssue } from './model.ts';
import type { Pos, PosNode, Source } from './positions.ts';
import { child, setChild } from './positions.ts';

/** Aliases can nest; bound the walk so a hostile file cannot recurse forever. */
const MAX_DEPTH = 64;

export function parseYamlSource(file: string, text: string): { source?: Source; issues: ConfigIssue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const at = (offset: number): Pos => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  };
  const issues: ConfigIssue[] = [];
  for (const e of doc.errors) {
    const p = at(e.pos[0]);
    issues.push({ ...p, path: '(root)', message: `YAML syntax error: ${firstLine(e.message)}`, severity: 'error' });
  }
  if (issues.length > 0) return { issues };
  for (const w of doc.warnings) {
    const p = at(w.pos[0]);
    issues.push({ ...p, path: '(root)', message: `YAML: ${firstLine(w.message)}`, severity: 'warning' });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    issues.push({ file, line: 1, col: 1, path: '(root)', message: `YAML error: ${(err as Error).message}`, severity: 'error' });
    return { issues };
  }
  const start: Pos = { file, line: 1, col: 1 };
  const root: PosNode = { key: start, value: doc.contents ? nodePos(doc.contents as YamlNode, at) ?? start : start };
  if (doc.contents) walk(doc, doc.contents as YamlNode, root, at, 0);
  return { source: { value: value ?? {}, pos: root }, issues };
}

function firstLine(msg: string): string {
  return msg.split('\n')[0].trim();
}

function nodePos(node: YamlNode, at: (offset: number) => Pos): Pos | undefined {
  // An empty value (`key:` with nothing after it) has its range after the line end; the key is the better place.
  if (isScalar(node) && node.source === '') return undefined;
  return node.range ? at(node.range[0]) : undefined;
}

/** Fill `into.children` with the positions of the map's/sequence's entries. */
function walk(doc: Document, node: YamlNode, into: PosNode, at: (offset: number) => Pos, depth: number): void {
  if (depth > MAX_DEPTH) return;
  if (isAlias(node)) {
    const target = node.resolve(doc);
    if (target) walk(doc, target as YamlNode, into, at, depth + 1);
    return;
  }
  if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const p: Pos = (item ? nodePos(item as YamlNode, at) : undefined) ?? into.value;
      const c: PosNode = { key: p, value: p };
      setChild(into, i, c);
      if (item) walk(doc, item as YamlNode, c, at, depth + 1);
    });
    return;
  }
  if (!isMap(node)) return;
  const merges: YamlNode[] = [];
  for (const pair of node.items) {
    const keyNode = pair.key as YamlNode | null;
    const key = keyNode && isScalar(keyNode) ? keyNode.value : keyNode;
    if (key === '<<' && pair.value) {
      merges.push(pair.value as YamlNode);
      continue;
    }
    const keyPos = (keyNode && nodePos(keyNode, at)) ?? into.value;
    const valueNode = pair.value as YamlNode | null;
    const c: PosNode = { key: keyPos, value: (valueNode && nodePos(valueNode, at)) ?? keyPos };
    setChild(into, String(key), c);
    if (valueNode) walk(doc, valueNode, c, at, depth + 1);
  }
  // `<<: *base` fills keys not written here; their positions are those in the merged-in map.
  for (const m of merges) {
    const sources = isSeq(m) ? (m.items as YamlNode[]) : [m];
    for (const s of sources) {
      const tmp: PosNode = { key: into.key, value: into.value };
      walk(doc, s, tmp, at, depth + 1);
      for (const [k, c] of tmp.children ?? []) if (!child(into, k)) setChild(into, k, c);
    }
  }
}
