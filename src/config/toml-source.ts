/**
 * TOML config files: values from smol-toml, positions from our own locator
 * (smol-toml reports positions only for syntax errors).
 */
import { TomlDate, TomlError, parse } from 'smol-toml';
import type { ConfigIssue } from './model.ts';
import type { Source } from './positions.ts';
import { locateToml } from './toml-locate.ts';
import { setOwn } from './sources.ts';

export function parseTomlSource(file: string, text: string): { source?: Source; issues: ConfigIssue[] } {
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const message = err.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
      return { issues: [{ file, line: err.line, col: err.column, path: '(root)', message: `TOML syntax error: ${message}`, severity: 'error' }] };
    }
    return { issues: [{ file, line: 1, col: 1, path: '(root)', message: `TOML error: ${(err as Error).message}`, severity: 'error' }] };
  }
  return { source: { value: plain(parsed), pos: locateToml(file, text) }, issues: [] };
}

/** Plain objects and strings for dates, so TOML and YAML files give the same kind of value. */
function plain(v: unknown): unknown {
  if (v instanceof TomlDate) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'bigint') return Number(v);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    // setOwn: a key spelled `__proto__` stays a key (and is reported as unknown), as it does in YAML.
    for (const [k, x] of Object.entries(v)) setOwn(out, k, plain(x));
    return out;
  }
  return v;
}
