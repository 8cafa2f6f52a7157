/**
 * The Prometheus remote write 1.0 wire format: a protobuf `WriteRequest`
 * (the subset of prompb/remote.proto and types.proto that 1.0 needs),
 * snappy block-compressed.
 */
import protobuf from 'protobufjs';
import snappy from 'snappyjs';

const REMOTE_WRITE_PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest {
  repeated TimeSeries timeseries = 1;
  reserved 2;
}
message TimeSeries {
  repeated Label labels = 1;
  repeated Sample samples = 2;
}
message Label {
  string name = 1;
  string value = 2;
}
message Sample {
  double value = 1;
  int64 timestamp = 2;
}
`;

const root = protobuf.parse(REMOTE_WRITE_PROTO, { keepCase: true }).root;
export const WriteRequest = root.lookupType('prometheus.WriteRequest');

export interface Label {
  name: string;
  value: string;
}

export interface Sample {
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

export interface TimeSeries {
  /** Sorted by name, `__name__` among them. */
  labels: Label[];
  /** Ascending by timestamp. */
  samples: Sample[];
}

/** The headers remote write 1.0 requires. */
export const REMOTE_WRITE_HEADERS: Record<string, string> = {
  'Content-Encoding': 'snappy',
  'Content-Type': 'application/x-protobuf',
  'X-Prometheus-Remote-Write-Version': '0.1.0',
};

export function encodeWriteRequest(timeseries: TimeSeries[]): Uint8Array {
  return snappy.compress(WriteRequest.encode({ timeseries }).finish());
}

/** The reverse, for tests and fake backends. */
export function decodeWriteRequest(body: Uint8Array): { timeseries: TimeSeries[] } {
  const raw = WriteRequest.decode(snappy.uncompress(body)) as unknown as { timeseries: Array<{ labels: Label[]; samples: Array<{ value: number; timestamp: unknown }> }> };
  return {
    timeseries: raw.timeseries.map((ts) => ({
      labels: ts.labels.map((l) => ({ name: l.name, value: l.value })),
      samples: (ts.samples ?? []).map((s) => ({ value: s.value ?? 0, timestamp: Number(s.timestamp ?? 0) })),
    })),
  };
}

/** Prometheus' staleness marker: a NaN with a particular payload. */
export const STALE_NAN = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer)[0];
