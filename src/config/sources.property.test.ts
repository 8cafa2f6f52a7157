import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { stringify as stringifyYaml } from 'yaml';
import { locateToml } from './toml-locate.ts';
import { parseSource } from './sources.ts';
import { hasPath, isPlainObject, locate } from './positions.ts';

/** Every key path of a parsed value, down to the leaves. */
function paths(v: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push([...prefix, i], ...paths(x, [...prefix, i])));
  else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) out.push([...prefix, k], ...paths(x, [...prefix, k]));
  return out;
}

// Keys with the characters that need quoting in TOML and YAML: dots, slashes, quotes, spaces, backslashes.
const key = fc.stringMatching(/^[a-z0-9_./" \\'-]{1,8}$/);
const leaf = fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 12 }), fc.constantFrom('line\nbreak', 'a"""b', "it's", '#x'));
const tree = fc.letrec((tie) => ({
  node: fc.dictionary(key, fc.oneof({ depthSize: 'small' }, leaf, tie('node'), fc.array(leaf, { maxLength: 3 }), fc.array(tie('node'), { maxLength: 2 })), { maxKeys: 4 }),
})).node;

describe('sources locate every key they parse', () => {
  it('TOML: the locator finds every key path smol-toml reads', () => {
    fc.assert(
      fc.property(tree, (obj) => {
        const text = stringifyToml(obj);
        const parsed = parseToml(text);
        const pos = locateToml('p.toml', text);
        const lines = text.split('\n');
        for (const p of paths(parsed)) {
          expect(hasPath(pos, p), `${JSON.stringify(p)} in\n${text}`).toBe(true);
          // A key's position points at the key as written: bare, or its opening quote.
          const last = p[p.length - 1];
          if (typeof last !== 'string') continue;
          const at = locate(pos, p, 'key');
          const rest = lines[at.line - 1].slice(at.col - 1);
          expect(rest.startsWith(last) || rest.startsWith('"') || rest.startsWith("'"), `${JSON.stringify(p)} at ${at.line}:${at.col} in\n${text}`).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('YAML: every key path has a position, and its value reads back', () => {
    fc.assert(
      fc.property(tree, (obj) => {
        const text = stringifyYaml(obj);
        const r = parseSource('p.yaml', text);
        expect(r.issues).toEqual([]);
        expect(r.source!.value).toEqual(obj);
        for (const p of paths(obj)) expect(hasPath(r.source!.pos, p), JSON.stringify(p)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        parseSource('p.toml', text);
        parseSource('p.yaml', text);
        locateToml('p.toml', text);
      }),
      { numRuns: 500 },
    );
  });
});
