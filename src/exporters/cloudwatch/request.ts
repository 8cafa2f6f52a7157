/**
 * Packs datums into PutMetricData requests within the API's limits: at most
 * 1,000 datums and 1 MB of request body each. Sizes are estimated from the
 * JSON the SDK writes (a conservative upper bound per field), so no request
 * is refused for its size.
 */
import type { CwDatum, CwTranslation } from './translate.ts';

export const MAX_DATUMS = 1000;
/** 1 MB, minus a margin for the envelope and the estimate's slack. */
export const MAX_BODY_BYTES = 1_000_000;

export interface PutRequest {
  datums: CwDatum[];
  /** Input data points this request accounts for. */
  src: number;
  estimatedBytes: number;
}

/** Digits of a double in JSON, upper bound. */
const NUM = 24;

export function estimateDatumBytes(d: CwDatum): number {
  let n = 110 + Buffer.byteLength(d.MetricName) + d.Unit.length;
  for (const dim of d.Dimensions) n += 26 + Buffer.byteLength(dim.Name) + Buffer.byteLength(dim.Value);
  if (d.Value !== undefined) n += 10 + NUM;
  if (d.Values !== undefined) n += 24 + d.Values.length * (NUM + 1) * 2;
  if (d.StatisticValues !== undefined) n += 80 + 4 * NUM;
  return n;
}

export function buildRequests(t: CwTranslation, namespace: string, maxDatums = MAX_DATUMS, maxBytes = MAX_BODY_BYTES): PutRequest[] {
  const out: PutRequest[] = [];
  const envelope = 40 + Buffer.byteLength(namespace);
  let datums: CwDatum[] = [];
  let src = 0;
  let bytes = envelope;
  for (let i = 0; i < t.datums.length; i++) {
    const d = t.datums[i];
    const size = estimateDatumBytes(d) + 1;
    if (datums.length > 0 && (datums.length >= maxDatums || bytes + size > maxBytes)) {
      out.push({ datums, src, estimatedBytes: bytes });
      datums = [];
      src = 0;
      bytes = envelope;
    }
    datums.push(d);
    src += t.src[i];
    bytes += size;
  }
  if (datums.length > 0) out.push({ datums, src, estimatedBytes: bytes });
  return out;
}
