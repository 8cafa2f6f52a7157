/**
 * Secrets (CONTRACT §2) and the YAML rendering of print-config and /config.
 * A key whose name contains key, password, secret, token or dsn holds a
 * secret, and so does an Authorization (or Cookie) header; passwords written
 * inside URLs (`https://user:pass@host`) are masked too.
 */
import { stringify } from 'yaml';
import { isPlainObject } from './positions.ts';
import { setOwn } from './sources.ts';

export const REDACTED = '[REDACTED]';

const SECRET_KEY = /key|password|secret|token|dsn|authorization|cookie/i;

export function isSecretKey(name: string): boolean {
  return SECRET_KEY.test(name);
}

/** A deep copy with every secret value replaced by `[REDACTED]`. */
export function redactConfig(obj: unknown): unknown {
  if (Array.isArray(obj)) return obj.map(redactConfig);
  if (obj instanceof Map) return redactConfig(Object.fromEntries(obj));
  if (isPlainObject(obj)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      // An absent secret (null or empty) is shown as absent: that is useful to see and reveals nothing.
      const hide = isSecretKey(k) && v !== null && v !== undefined && v !== '';
      setOwn(out, k, hide ? REDACTED : redactConfig(v));
    }
    return out;
  }
  if (typeof obj === 'string') return redactUrlPassword(obj);
  return obj;
}

function redactUrlPassword(s: string): string {
  if (!s.includes('@') || !s.includes('://')) return s;
  try {
    const u = new URL(s);
    if (!u.password) return s;
    // Rebuild by hand: URL would percent-encode the brackets of the marker.
    return s.replace(`:${u.password}@`, `:${REDACTED}@`);
  } catch {
    return s;
  }
}

/** YAML for print-config: block style, no line folding, no anchors. */
export function toYaml(obj: unknown): string {
  return stringify(obj, null, { lineWidth: 0, aliasDuplicateObjects: false });
}
