/** Shared by the protobuf and JSON request decoders. */
import { TributaryError, errorMessage } from '../errors.ts';
import type { AttributeValue, Attributes } from '../model/metrics.ts';

/** Points dropped while decoding, for partial success and the `invalid` refusal counter. */
export interface DecodeIssues {
  rejectedPoints: number;
  /** The first reason met, for the partial-success message. */
  message: string;
}

export function newDecodeIssues(): DecodeIssues {
  return { rejectedPoints: 0, message: '' };
}

export function rejectPoints(issues: DecodeIssues, n: number, message: string): void {
  issues.rejectedPoints += n;
  if (issues.message === '') issues.message = message;
}

/** Deepest nesting of AnyValue arrays/kvlists accepted (a bound on recursion for hostile input). */
export const MAX_VALUE_DEPTH = 32;

/** OTLP DataPointFlags bit: the point has no recorded value. */
export const FLAG_NO_RECORDED_VALUE = 1;

export function malformed(err: unknown): TributaryError {
  if (err instanceof TributaryError) return err;
  // Whatever hostile input made the decoder throw (a wire or JSON shape error, a RangeError from a stack
  // overflow or an out-of-range read) is a bad request, never a crash. The message alone: clients read it
  // in the Status body, where String(err)'s `Error: ` prefix is noise.
  const detail = errorMessage(err);
  return new TributaryError('TRIB_BAD_REQUEST', `malformed OTLP request: ${detail}`, { reason: 'malformed', cause: err });
}

/** Assign without letting a `__proto__` key replace the object's prototype. */
export function setAttribute(into: Attributes, key: string, value: AttributeValue): void {
  if (key === '__proto__') Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  else into[key] = value;
}

