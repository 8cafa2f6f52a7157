/** `batch` processor settings, as otelcol's batchprocessor spells them. */
import { z, duration } from '../../config/types.ts';

export const batchConfigSchema = z
  .object({
    /** Points after which a batch is sent regardless of the timeout. */
    send_batch_size: z.number().int().min(1).default(8192),
    /** Upper bound on a sent batch; 0 = no bound. Larger batches are split. */
    send_batch_max_size: z.number().int().min(0).default(0),
    /** Time after which a non-empty batch is sent regardless of size; 0 = send at once. */
    timeout: duration().default(200),
    /** otelcol options accepted for compatibility; batching by client metadata is not implemented. */
    metadata_keys: z.array(z.string()).max(0, 'batching by metadata_keys is not supported').optional(),
    metadata_cardinality_limit: z.number().int().min(0).optional(),
  })
  .strict();

export type BatchConfig = z.infer<typeof batchConfigSchema>;

export function validateBatchConfig(c: BatchConfig): Array<[string, string]> {
  if (c.send_batch_max_size > 0 && c.send_batch_max_size < c.send_batch_size) {
    return [['send_batch_max_size', 'must be greater than or equal to send_batch_size']];
  }
  return [];
}
