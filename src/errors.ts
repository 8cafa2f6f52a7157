/**
 * Typed errors with stable codes. Whether a failure is worth retrying is
 * decided here, once, and every component asks `isRetryable`/`isPermanent`
 * instead of inspecting messages (the role of otelcol's consumererror).
 */

export type ErrorCode =
  /** Config file or value is invalid. */
  | 'TRIB_CONFIG_INVALID'
  /** A listener could not bind, a file could not be opened, … at start. */
  | 'TRIB_START_FAILED'
  /** The pipeline refused data to protect itself (memory limiter, full queue with `block`). */
  | 'TRIB_REFUSED'
  /** The request from a client is malformed (bad protobuf/JSON, bad datagram). */
  | 'TRIB_BAD_REQUEST'
  /** A body was larger than allowed (before or after decompression). */
  | 'TRIB_TOO_LARGE'
  /** Backend answered with something that will not succeed on retry (4xx except 408/429). */
  | 'TRIB_PERMANENT'
  /** Backend failed in a way that may succeed later (5xx, 408, 429, network error). */
  | 'TRIB_RETRYABLE'
  /** An attempt or a drain ran out of time. */
  | 'TRIB_TIMEOUT'
  /** Component is shutting down and takes no more data. */
  | 'TRIB_SHUTTING_DOWN';

export interface TributaryErrorOptions {
  cause?: unknown;
  /** Milliseconds the peer or the pipeline asks the sender to wait before retrying. */
  retryAfterMs?: number;
  /** Short, stable reason used as the `reason` label of self-metrics. */
  reason?: string;
  /** HTTP status the backend answered, if any. */
  status?: number;
}

export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterMs?: number;
  readonly reason: string;
  readonly status?: number;

  constructor(code: ErrorCode, message: string, opts: TributaryErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TributaryError';
    this.code = code;
    this.retryAfterMs = opts.retryAfterMs;
    this.reason = opts.reason ?? defaultReason(code);
    this.status = opts.status;
  }
}

function defaultReason(code: ErrorCode): string {
  switch (code) {
    case 'TRIB_REFUSED':
      return 'refused';
    case 'TRIB_BAD_REQUEST':
      return 'malformed';
    case 'TRIB_TOO_LARGE':
      return 'too_large';
    case 'TRIB_PERMANENT':
      return 'permanent';
    case 'TRIB_RETRYABLE':
      return 'retryable';
    case 'TRIB_TIMEOUT':
      return 'timeout';
    case 'TRIB_SHUTTING_DOWN':
      return 'shutdown';
    default:
      return 'error';
  }
}

export function permanentError(message: string, opts?: TributaryErrorOptions): TributaryError {
  return new TributaryError('TRIB_PERMANENT', message, opts);
}

export function retryableError(message: string, opts?: TributaryErrorOptions): TributaryError {
  return new TributaryError('TRIB_RETRYABLE', message, opts);
}

export function refusedError(message: string, opts?: TributaryErrorOptions): TributaryError {
  return new TributaryError('TRIB_REFUSED', message, opts);
}

/** Permanent: retrying the same data can never succeed. Unknown errors are treated as retryable. */
export function isPermanent(err: unknown): boolean {
  return err instanceof TributaryError && (err.code === 'TRIB_PERMANENT' || err.code === 'TRIB_BAD_REQUEST' || err.code === 'TRIB_TOO_LARGE' || err.code === 'TRIB_CONFIG_INVALID');
}

export function isRetryable(err: unknown): boolean {
  return !isPermanent(err);
}

export function isRefused(err: unknown): err is TributaryError {
  return err instanceof TributaryError && err.code === 'TRIB_REFUSED';
}

/** The `reason` label for a failure of any type. */
export function reasonOf(err: unknown): string {
  if (err instanceof TributaryError) return err.reason;
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    const code = (err as { code: string }).code;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ENOTFOUND' || code === 'EPIPE') return 'network';
    if (code.includes('TIMEOUT')) return 'timeout';
  }
  return 'error';
}

/** Classify an HTTP status the OTLP/otelcol way: 408/429/5xx retryable, other 4xx permanent. */
export function errorFromHttpStatus(status: number, message: string, retryAfterMs?: number): TributaryError {
  if (status === 408 || status === 429 || status >= 500) {
    return retryableError(message, { status, retryAfterMs, reason: status === 429 ? 'throttled' : `http_${status}` });
  }
  return permanentError(message, { status, reason: `http_${status}` });
}

/** Parse an HTTP `Retry-After` header (seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | string[] | null | undefined, now = Date.now()): number | undefined {
  if (value == null) return undefined;
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v === '') return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The message of anything thrown, for logs and status bodies (no `Error: ` prefix, no stack). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
