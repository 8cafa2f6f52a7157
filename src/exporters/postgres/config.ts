/**
 * Config of the `postgres` exporter (CONTRACT §7): where to connect, which
 * schema, how to find the tenant, how long to keep data and which rollup
 * periods to maintain, plus the shared exporter settings (timeout, retry,
 * queue, breaker).
 */
import { z, parseDuration, tlsSettings } from '../../config/types.ts';
import { exporterHelperFields, type ExporterHelperConfig } from '../helper/config.ts';

const DAY_MS = 86_400_000;

/**
 * Durations for retention-like options: the shared units plus `d` (days),
 * which the shared parser does not know (`30d`, `7d12h`, `36h`).
 * Returns milliseconds, or undefined when invalid.
 */
export function parseDays(input: string): number | undefined {
  const s = input.trim();
  const m = /^(\d+(?:\.\d+)?)d(.*)$/.exec(s);
  if (!m) return parseDuration(s);
  const rest = m[2] === '' ? 0 : parseDuration(m[2]);
  return rest === undefined ? undefined : Number(m[1]) * DAY_MS + rest;
}

const longDuration = () =>
  z.string().transform((v, ctx) => {
    const ms = parseDays(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid duration "${v}": use a number with a unit (s, m, h, d), e.g. 30d or 12h` });
      return z.NEVER;
    }
    return ms;
  });

/** An SQL identifier we interpolate into DDL: keep it to plain lowercase names so no quoting surprises. */
const identifier = () => z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lowercase SQL identifier ([a-z_][a-z0-9_]*)' });

export const postgresConfigSchema = z
  .object({
    /** `postgres://user:pass@host:port/db?sslmode=…` or key=value form; a secret (it may hold the password). */
    dsn: z.string().optional(),
    host: z.string().optional(),
    port: z.number().int().min(1).max(65535).optional(),
    database: z.string().optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    /** TLS to the server; absent means what the DSN says (plain text by default). */
    tls: tlsSettings().optional(),
    schema: identifier().default('tributary'),
    tenant_attribute: z.string().min(1).default('tenant.id'),
    retention: longDuration().default(30 * DAY_MS),
    /** How long rollups are kept; defaults to `retention`. */
    rollup_retention: longDuration().optional(),
    rollup_intervals: z.array(longDuration()).default([60_000, 3_600_000]),
    /** How often pending rollup parts are merged into metric_rollups (how far rollups may lag the points). */
    rollup_flush_interval: longDuration().default(2000),
    /** Daily partitions created ahead of today. */
    partitions_ahead: z.number().int().min(0).max(60).default(3),
    /** How often partitions are created ahead and expired ones dropped. */
    maintenance_interval: longDuration().default(3_600_000),
    /** How long batch ids are remembered to refuse a replayed batch (must outlive any retry or disk-queue replay). */
    dedupe_window: longDuration().default(DAY_MS),
    pool: z
      .object({
        /** 0 = one per queue consumer, plus one for maintenance. */
        max_connections: z.number().int().min(0).max(1000).default(0),
        connect_timeout: longDuration().default(10_000),
        idle_timeout: longDuration().default(30_000),
      })
      .strict()
      .prefault({}),
    ...exporterHelperFields(),
  })
  .strict();

export type PostgresConfig = z.infer<typeof postgresConfigSchema>;
// Compile-time check that the helper fields are all there.
const _helper: (c: PostgresConfig) => ExporterHelperConfig = (c) => c;
void _helper;

export function createDefaultConfig(): PostgresConfig {
  return postgresConfigSchema.parse({});
}

/** Checks across fields (pure): [keyPath, message] pairs. */
export function validateConfig(c: PostgresConfig): Array<[string, string]> {
  const issues: Array<[string, string]> = [];
  if (c.dsn !== undefined && (c.host !== undefined || c.port !== undefined || c.database !== undefined || c.user !== undefined)) {
    issues.push(['dsn', 'give either dsn or host/port/database/user, not both']);
  }
  if (c.retention < DAY_MS) issues.push(['retention', 'must be at least 1d (partitions are daily)']);
  if (c.rollup_retention !== undefined && c.rollup_retention <= 0) issues.push(['rollup_retention', 'must be positive']);
  if (c.rollup_intervals.length === 0) issues.push(['rollup_intervals', 'needs at least one interval']);
  const seen = new Set<number>();
  c.rollup_intervals.forEach((ms, i) => {
    if (ms < 1000 || ms % 1000 !== 0) issues.push([`rollup_intervals.${i}`, 'must be a whole number of seconds, at least 1s']);
    if (seen.has(ms)) issues.push([`rollup_intervals.${i}`, 'duplicate interval']);
    seen.add(ms);
  });
  if (c.maintenance_interval < 1000) issues.push(['maintenance_interval', 'must be at least 1s']);
  if (c.rollup_flush_interval < 10) issues.push(['rollup_flush_interval', 'must be at least 10ms']);
  return issues;
}
