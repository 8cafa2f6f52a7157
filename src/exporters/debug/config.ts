/** Config of the `debug` exporter, spelled as otelcol's debugexporter. */
import { z } from '../../config/types.ts';

export const debugConfigSchema = z
  .object({
    /** basic: one summary line per batch; normal: one line per data point; detailed: everything. */
    verbosity: z.enum(['basic', 'normal', 'detailed']).default('basic'),
    /** Batches printed per second before sampling starts (otelcol's zap sampler). */
    sampling_initial: z.number().int().min(1).default(2),
    /** Past `sampling_initial` in a second, print every Nth batch. */
    sampling_thereafter: z.number().int().min(1).default(1),
    /** Where the text goes. */
    stream: z.enum(['stderr', 'stdout']).default('stderr'),
    /** Write through the daemon's JSON logger instead of the raw stream (as otelcol's option). */
    use_internal_logger: z.boolean().default(false),
  })
  .strict();

export type DebugConfig = z.infer<typeof debugConfigSchema>;

export function createDefaultDebugConfig(): DebugConfig {
  return debugConfigSchema.parse({});
}
