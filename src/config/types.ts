/**
 * Shared config value types, as zod schemas. Every component's `config.ts`
 * builds its schema from these so that durations, sizes and endpoints are
 * spelled and checked the same way everywhere (CONTRACT §2).
 *
 * Conventions:
 * - objects are `.strict()`: an unknown key is an error naming the key;
 * - nested objects with defaults use `.prefault({})` so their inner defaults apply;
 * - durations parse to milliseconds (`number`), sizes to bytes (`number`).
 */
import { z } from 'zod';

const DURATION_RE = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parse `250ms`, `10s`, `1m30s`, `5m`, `1h`, `0` into milliseconds; undefined when invalid. */
export function parseDuration(input: string): number | undefined {
  const s = input.trim();
  if (s === '0') return 0;
  // Go-style compound durations such as 1m30s are accepted, as otelcol accepts them.
  const parts = s.match(/\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)/g);
  if (!parts || parts.join('') !== s) return undefined;
  let total = 0;
  for (const p of parts) {
    const m = DURATION_RE.exec(p);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
  }
  return total;
}

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB|k|K|M|G)?$/;
const SIZE_MULT: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  k: 1024,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
};

/** Parse `1048576`, `512KiB`, `20MiB`, `1GiB` into bytes; undefined when invalid. */
export function parseSize(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.floor(input) : undefined;
  const m = SIZE_RE.exec(input.trim());
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * SIZE_MULT[m[2] ?? 'B']);
}

/** A duration string (`10s`) → milliseconds. Numbers are taken as nanoseconds, as otelcol's YAML does. */
export const duration = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    if (typeof v === 'number') {
      if (v < 0 || !Number.isFinite(v)) {
        ctx.addIssue({ code: 'custom', message: `invalid duration ${v}: must be a non-negative number of nanoseconds or a string with a unit` });
        return z.NEVER;
      }
      return v / 1e6;
    }
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid duration "${v}": use a number with a unit (ns, us, ms, s, m, h), e.g. 250ms or 10s` });
      return z.NEVER;
    }
    return ms;
  });

/** A size (`20MiB` or a byte count) → bytes. */
export const size = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const bytes = parseSize(v);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid size "${v}": use bytes or a number with KiB, MiB or GiB` });
      return z.NEVER;
    }
    return bytes;
  });

/** `host:port` with a numeric port 0–65535; `[::1]:4317` for IPv6. */
export const hostPort = () =>
  z.string().refine((v) => parseHostPort(v) !== undefined, { message: 'must be host:port with a port from 0 to 65535' });

export function parseHostPort(v: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(v.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

/** An http(s) URL. */
export const url = () =>
  z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        return false;
      }
    },
    { message: 'must be an http:// or https:// URL' },
  );

/** A TLS client/server block in otelcol's spelling. */
export const tlsSettings = () =>
  z
    .object({
      insecure: z.boolean().default(false),
      insecure_skip_verify: z.boolean().default(false),
      ca_file: z.string().optional(),
      cert_file: z.string().optional(),
      key_file: z.string().optional(),
      server_name_override: z.string().optional(),
      min_version: z.string().optional(),
    })
    .strict();

export type TlsSettings = z.infer<ReturnType<typeof tlsSettings>>;

export { z };
