/**
 * Counting the gRPC calls that grpc-js refuses before the Export handler runs.
 *
 * grpc-js answers some bad requests itself: a message over the receive limit
 * (as framed, or once decompressed: a gzip bomb), a `grpc-encoding` it does
 * not know, corrupt compressed data, an invalid `grpc-timeout`, a deadline
 * that passes before the request is complete, a stream that ends without one
 * whole message (a truncated frame). The handler never sees these calls, so
 * they have to be counted here (CONTRACT: every refused request is counted
 * with a reason).
 *
 * A server interceptor sees every call. Its inbound side tells whether the
 * handler was invoked (grpc-js invokes a unary handler on half-close after
 * exactly one message); every status leaving a call whose handler did not run
 * is a refusal by grpc-js, counted once with a stable reason. Where grpc-js's
 * code misleads an OTLP client it is replaced by the one the OTLP spec asks
 * for bad data, INVALID_ARGUMENT (not retryable): UNIMPLEMENTED for a
 * truncated message reads as "this server has no Export method", INTERNAL for
 * corrupt gzip as a server fault worth retrying.
 *
 * grpc-js sends its own refusals by calling `sendStatus` on the innermost call
 * object, not through the interceptor chain, so the interceptor wraps that
 * object's `sendStatus` (the first interceptor is handed the innermost call):
 * every status of the call leaves through the wrapper. A client that aborts
 * mid-request (RST_STREAM, connection lost) makes grpc-js produce a status it
 * then drops, as the stream is gone: that call was abandoned, not refused, and
 * is not counted. The unit tests pin each case against the installed grpc-js.
 */
import * as grpc from '@grpc/grpc-js';

type Status = Parameters<grpc.ServerInterceptingCallInterface['sendStatus']>[0];

/**
 * Where a refusal came from: `transport` is grpc-js's framing, decompression,
 * limits and deadline (below the interceptor chain); `dispatch` is its unary
 * method dispatcher (above it), which refuses a call without exactly one message.
 */
export type RefusalOrigin = 'transport' | 'dispatch';

export interface Refusal {
  /** The `reason` label of `tributary_receiver_refused_requests_total`. */
  reason: string;
  /** What the client is answered. */
  status: Status;
}

/** The encodings grpc-js decompresses, advertised on an unsupported-encoding refusal as the gRPC compression spec asks. */
const ACCEPTED_ENCODINGS = 'identity,deflate,gzip';

/** The reason to count and the status to answer for a status grpc-js produced on its own. */
export function classifyRefusal(status: Status, origin: RefusalOrigin): Refusal {
  if (origin === 'dispatch') {
    // grpc-js says UNIMPLEMENTED ("no request message for server streaming method"): the request was cut short or doubled.
    const details = /second/i.test(status.details)
      ? 'more than one request message in a unary call'
      : 'no complete request message: the stream ended before a whole gRPC message arrived (truncated frame?)';
    return { reason: 'malformed', status: { code: grpc.status.INVALID_ARGUMENT, details, metadata: status.metadata } };
  }
  switch (status.code) {
    case grpc.status.RESOURCE_EXHAUSTED:
      // Over max_recv_msg_size, as framed or once decompressed. No RetryInfo, so OTLP clients do not retry it.
      return { reason: 'too_large', status };
    case grpc.status.UNIMPLEMENTED: {
      const metadata = status.metadata?.clone() ?? new grpc.Metadata();
      metadata.set('grpc-accept-encoding', ACCEPTED_ENCODINGS);
      return { reason: 'unsupported_encoding', status: { ...status, metadata } };
    }
    case grpc.status.INTERNAL:
      // Before the handler runs, grpc-js answers INTERNAL only for bad input: corrupt compressed data, an invalid grpc-timeout.
      return { reason: 'malformed', status: { ...status, code: grpc.status.INVALID_ARGUMENT } };
    case grpc.status.DEADLINE_EXCEEDED:
      return { reason: 'timeout', status };
    default:
      return { reason: 'other', status };
  }
}

/**
 * A server interceptor calling `onRefused(reason)` once for each call grpc-js
 * refuses before the handler runs, and answering it with `classifyRefusal`'s
 * status. Must come first in the server's interceptor list.
 */
export function refusalInterceptor(onRefused: (reason: string) => void): grpc.ServerInterceptor {
  return (_method, call) => {
    let messages = 0;
    let handlerInvoked = false;
    let fromDispatch = false;
    let answered = false;

    const send = call.sendStatus.bind(call);
    call.sendStatus = (status) => {
      if (answered || handlerInvoked || status.code === grpc.status.OK || streamGone(call)) {
        answered = true;
        return send(status);
      }
      answered = true;
      const refusal = classifyRefusal(status, fromDispatch ? 'dispatch' : 'transport');
      onRefused(refusal.reason);
      send(refusal.status);
    };

    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMessage((message, next) => {
        messages++;
        next(message);
      })
      .withOnReceiveHalfClose((next) => {
        // grpc-js invokes the unary handler inside next() when exactly one message came; any status from here on is the handler's.
        if (messages === 1) handlerInvoked = true;
        next();
      })
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status, next) => {
        fromDispatch = true;
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}

/**
 * True when the call's HTTP/2 stream is already closed, so grpc-js will not
 * send the status (it checks the same). `stream` is a field of grpc-js's
 * innermost call; were it ever missing, aborts would be counted as refusals
 * (an overcount, never a silent loss).
 */
function streamGone(call: grpc.ServerInterceptingCallInterface): boolean {
  const stream = (call as { stream?: { destroyed?: boolean; closed?: boolean } }).stream;
  return stream?.destroyed === true || stream?.closed === true;
}
