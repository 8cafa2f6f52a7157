/**
 * google.rpc.Status, the error body OTLP/HTTP servers answer with (in the
 * request's encoding) and what gRPC carries in `grpc-status-details-bin`,
 * optionally with a RetryInfo detail telling the client how long to wait.
 */
import { RetryInfo, RpcStatus } from './schema.ts';

/** gRPC status codes used by the OTLP receiver (the same numbers go in HTTP Status bodies). */
export const GrpcCode = {
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

export function encodeStatus(code: number, message: string, retryAfterMs?: number): Uint8Array {
  const details = [];
  if (retryAfterMs !== undefined) {
    const retry = RetryInfo.encode({ retryDelay: durationOf(retryAfterMs) }).finish();
    details.push({ typeUrl: RETRY_INFO_TYPE, value: retry });
  }
  return RpcStatus.encode({ code, message, details }).finish();
}

export function encodeStatusJson(code: number, message: string, retryAfterMs?: number): string {
  const status: Record<string, unknown> = { code, message };
  if (retryAfterMs !== undefined) {
    // proto3 JSON spells a Duration as seconds with an `s` suffix.
    status.details = [{ '@type': RETRY_INFO_TYPE, retryDelay: `${retryAfterMs / 1000}s` }];
  }
  return JSON.stringify(status);
}

export function decodeStatus(buf: Uint8Array): { code: number; message: string } {
  const s = RpcStatus.decode(buf) as unknown as { code?: number; message?: string };
  return { code: s.code ?? 0, message: s.message ?? '' };
}

function durationOf(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}
