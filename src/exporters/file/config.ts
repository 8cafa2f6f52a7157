/**
 * Config of the `file` exporter, spelled as otelcol-contrib's fileexporter so
 * its configs load unchanged: `path`, `format`, `compression`, `append`,
 * `rotation`, `flush_interval`, `create_directory`, `directory_permissions`.
 *
 * Of the network exporters' shared settings only `sending_queue` and
 * `retry_on_failure` are taken: the queue keeps a slow or stalled disk from
 * holding up the receivers, and retries ride out a full disk that an operator
 * or a log cleaner frees again. A per-attempt `timeout` and a circuit breaker
 * would not help: a write cannot be cancelled once handed to the kernel, and
 * a local file has no peer to protect.
 */
import { z, duration } from '../../config/types.ts';
import { queueSchema, retrySchema } from '../helper/config.ts';
import type { ExporterHelperConfig } from '../helper/config.ts';

export const rotationSchema = () =>
  z
    .object({
      /** Size at which the file is rotated (otelcol default 100). */
      max_megabytes: z.number().int().min(1).default(100),
      /** Backups older than this many days are deleted; 0 keeps them regardless of age. */
      max_days: z.number().int().min(0).default(0),
      /** Backups kept; 0 keeps them all (otelcol default 100). */
      max_backups: z.number().int().min(0).default(100),
      /** Backup names carry local time instead of UTC. */
      localtime: z.boolean().default(false),
    })
    .strict();

export type RotationConfig = z.infer<ReturnType<typeof rotationSchema>>;

export const fileConfigSchema = z
  .object({
    path: z.string().min(1, 'path is required'),
    /** json: one OTLP/JSON ExportMetricsServiceRequest per line; proto: each message behind a 4-byte big-endian length. */
    format: z.enum(['json', 'proto']).default('json'),
    /** zstd compresses each message on its own; the file is then length-prefixed, as otelcol writes it. */
    compression: z.enum(['zstd', '']).default(''),
    /** Without rotation: keep what the file holds (true) or truncate it at start (false). */
    append: z.boolean().default(false),
    /**
     * Present (even empty, `rotation:`) turns rotation on with its defaults;
     * absent means one file that grows without bound, as in otelcol.
     */
    rotation: z.preprocess((v) => (v === null ? {} : v), rotationSchema().optional()),
    /** How often written data is fsynced; 0 means the default, as in otelcol. */
    flush_interval: duration().default(1000),
    /** Create the file's directory (and parents) at start when missing. */
    create_directory: z.boolean().default(false),
    /** Octal mode for directories created by `create_directory` (before the umask). */
    directory_permissions: z
      .string()
      .regex(/^0?[0-7]{3}$/, 'must be an octal mode such as 0750')
      .optional(),
    sending_queue: queueSchema({ numConsumers: 1 }).prefault({}),
    retry_on_failure: retrySchema().prefault({}),
  })
  .strict();

export type FileConfig = z.infer<typeof fileConfigSchema>;

export const DEFAULT_FLUSH_INTERVAL_MS = 1000;
export const DEFAULT_DIRECTORY_MODE = 0o750;

export function createDefaultFileConfig(): FileConfig {
  // otelcol's default has no path either; this one names a file in the working directory.
  return fileConfigSchema.parse({ path: 'tributary-metrics.json' });
}

/** Checks across fields (pure): [keyPath, message] pairs, as otelcol's Validate. */
export function validateFileConfig(c: FileConfig): Array<[string, string]> {
  const issues: Array<[string, string]> = [];
  if (c.append && c.rotation) issues.push(['append', 'append and rotation enabled at the same time is not supported']);
  if (c.append && c.compression) issues.push(['append', 'append and compression enabled at the same time is not supported']);
  if (c.directory_permissions !== undefined && !c.create_directory) issues.push(['directory_permissions', 'directory_permissions requires create_directory: true']);
  return issues;
}

/**
 * The helper settings the exporter runs with: the user's queue and retry, no
 * per-attempt timeout (a write in the kernel cannot be abandoned without
 * miscounting it) and no circuit breaker.
 */
export function helperConfigOf(c: FileConfig): ExporterHelperConfig {
  return {
    timeout: 0,
    retry_on_failure: c.retry_on_failure,
    sending_queue: c.sending_queue,
    circuit_breaker: { enabled: false, failure_threshold: 1, open_duration: 0, half_open_requests: 1 },
  };
}

export function flushIntervalMs(c: FileConfig): number {
  return c.flush_interval > 0 ? c.flush_interval : DEFAULT_FLUSH_INTERVAL_MS;
}

export function directoryMode(c: FileConfig): number {
  return c.directory_permissions ? parseInt(c.directory_permissions, 8) : DEFAULT_DIRECTORY_MODE;
}
