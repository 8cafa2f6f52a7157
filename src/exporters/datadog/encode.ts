/**
 * Wire encodings of the two intakes: series as the v2 JSON body
 * (`{"series":[…]}`), sketches as the Agent's `SketchPayload` protobuf. Each
 * item is encoded on its own so the request builder can pack items into
 * payloads under the size limits without re-encoding.
 */
import protobuf from 'protobufjs';
import type { DdSeries, DdSketch } from './translate.ts';

export const SERIES_PREFIX = '{"series":[';
export const SERIES_SUFFIX = ']}';

/** One element of the `series` array, as JSON text. */
export function encodeSeries(s: DdSeries): string {
  let out = '{"metric":' + JSON.stringify(s.metric) + ',"type":' + s.type + ',"points":[{"timestamp":' + s.timestamp + ',"value":' + s.value + '}]';
  out += ',"resources":[{"name":' + JSON.stringify(s.host) + ',"type":"host"}]';
  if (s.tags.length > 0) out += ',"tags":' + JSON.stringify(s.tags);
  if (s.interval > 0) out += ',"interval":' + s.interval;
  return out + '}';
}

/**
 * One `SketchPayload.sketches` entry (field 1), framed, so payloads are plain
 * concatenations of entries. Field numbers are those of the Agent's
 * `agent_payload.proto` (Sketch: metric 1, host 2, tags 4, dogsketches 7;
 * Dogsketch: ts 1, cnt 2, min 3, max 4, avg 5, sum 6, k 7 (sint32), n 8 (uint32)).
 */
export function encodeSketchEntry(s: DdSketch): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).fork();
  w.uint32((1 << 3) | 2).string(s.metric);
  w.uint32((2 << 3) | 2).string(s.host);
  for (const t of s.tags) w.uint32((4 << 3) | 2).string(t);
  w.uint32((7 << 3) | 2).fork();
  w.uint32((1 << 3) | 0).int64(s.timestamp);
  w.uint32((2 << 3) | 0).int64(s.count);
  w.uint32((3 << 3) | 1).double(s.min);
  w.uint32((4 << 3) | 1).double(s.max);
  w.uint32((5 << 3) | 1).double(s.avg);
  w.uint32((6 << 3) | 1).double(s.sum);
  if (s.keys.length > 0) {
    w.uint32((7 << 3) | 2).fork();
    for (const k of s.keys) w.sint32(k);
    w.ldelim();
    w.uint32((8 << 3) | 2).fork();
    for (const n of s.counts) w.uint32(n);
    w.ldelim();
  }
  w.ldelim();
  w.ldelim();
  return w.finish();
}
