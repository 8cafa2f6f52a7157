/**
 * pg and network errors → retryable or permanent, decided once here.
 *
 * Retryable: the server or the path to it is unavailable or busy, and the
 * same batch will succeed later (connection failures, admin shutdown,
 * read-only standby, serialization failures and deadlocks, resource limits,
 * a missing partition or table that the next attempt recreates, auth
 * problems an operator is fixing). Permanent: the data itself is refused
 * (data exceptions, integrity violations, program limits).
 */
import { permanentError, retryableError, TributaryError, errorMessage } from '../../errors.ts';

/** SQLSTATEs that are retryable although their class would say otherwise. */
const RETRYABLE_CODES = new Set([
  '25006', // read_only_sql_transaction: a standby, or default_transaction_read_only during maintenance
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '55006', // object_in_use
  '57014', // query_canceled (statement_timeout)
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '57P04', // database_dropped
  '57P05', // idle_session_timeout
  '23514', // check_violation: "no partition of relation found for row" after a partition vanished
  '42P01', // undefined_table: schema dropped under us; the next attempt migrates again
  '3F000', // invalid_schema_name: same
  '28000', // invalid_authorization_specification
  '28P01', // invalid_password
  '42501', // insufficient_privilege: grants being fixed
  '3D000', // invalid_catalog_name: database not created yet
]);

/** Classes (first two characters) that mean "try again later". */
const RETRYABLE_CLASSES = new Set(['08', '40', '53', '57', '58', 'XX']);

/** Classes that mean the data itself is bad. */
const PERMANENT_CLASSES = new Set(['22', '23', '54', '42']);

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Whether an error means the schema or a partition must be re-checked before the next attempt. */
export function needsSchemaCheck(err: unknown): boolean {
  const code = sqlState(err);
  return code === '42P01' || code === '3F000' || code === '23514';
}

export function sqlState(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export function classifyPgError(err: unknown): TributaryError {
  if (err instanceof TributaryError) return err;
  const message = errorMessage(err);
  const state = sqlState(err);
  if (state !== undefined) {
    const cls = state.slice(0, 2);
    if (RETRYABLE_CODES.has(state) || RETRYABLE_CLASSES.has(cls)) {
      return retryableError(`postgres: ${message} (${state})`, { cause: err, reason: reasonFor(state) });
    }
    if (PERMANENT_CLASSES.has(cls)) return permanentError(`postgres: ${message} (${state})`, { cause: err, reason: `sqlstate_${state}` });
    return retryableError(`postgres: ${message} (${state})`, { cause: err, reason: `sqlstate_${state}` });
  }
  const code = err && typeof err === 'object' && 'code' in err ? String((err as { code: unknown }).code) : '';
  if (NETWORK_CODES.has(code)) return retryableError(`postgres: ${message}`, { cause: err, reason: 'network' });
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return retryableError(`postgres: attempt timed out`, { cause: err, reason: 'timeout' });
  }
  // pg's own connection errors carry no code: "Connection terminated unexpectedly", "timeout exceeded when trying to connect", …
  if (/connect|terminat|timeout|closed|ended/i.test(message)) return retryableError(`postgres: ${message}`, { cause: err, reason: 'network' });
  return retryableError(`postgres: ${message}`, { cause: err, reason: 'error' });
}

function reasonFor(state: string): string {
  if (state === '25006') return 'read_only';
  if (state === '40001' || state === '40P01') return 'conflict';
  if (state.startsWith('08') || state.startsWith('57')) return 'unavailable';
  if (state.startsWith('53')) return 'resources';
  if (state.startsWith('28') || state === '42501') return 'auth';
  return `sqlstate_${state}`;
}
