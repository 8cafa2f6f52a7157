/**
 * Sends PutMetricData through the AWS SDK and classifies failures once, here.
 * The SDK's own retries are off (`maxAttempts: 1`): the exporter helper
 * retries with backoff, honours the circuit breaker and counts attempts.
 *
 * Throttling (`Throttling`, HTTP 400), 429, 5xx, network errors and missing
 * or expired credentials are retryable; refused signatures and tokens are
 * permanent `forbidden`; other client errors (invalid parameters) permanent.
 */
import { CloudWatchClient, PutMetricDataCommand, type StandardUnit } from '@aws-sdk/client-cloudwatch';
import { permanentError, retryableError, TributaryError } from '../../errors.ts';
import type { PutRequest } from './request.ts';

export interface CloudWatchServiceOptions {
  namespace: string;
  region?: string;
  endpoint?: string;
  compression: 'gzip' | 'none';
}

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'LimitExceeded', 'LimitExceededException', 'LimitExceededFault']);
const FORBIDDEN = new Set(['AccessDenied', 'AccessDeniedException', 'InvalidClientTokenId', 'SignatureDoesNotMatch', 'UnrecognizedClientException', 'IncompleteSignature', 'IncompleteSignatureException', 'MissingAuthenticationToken']);
const CREDENTIALS = new Set(['CredentialsProviderError', 'ExpiredToken', 'ExpiredTokenException', 'RequestExpired']);

export class CloudWatchService {
  private readonly client: CloudWatchClient;
  private readonly namespace: string;

  constructor(opts: CloudWatchServiceOptions) {
    this.namespace = opts.namespace;
    this.client = new CloudWatchClient({
      ...(opts.region ? { region: opts.region } : {}),
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      maxAttempts: 1,
      disableRequestCompression: opts.compression === 'none',
    });
  }

  async put(req: PutRequest, signal: AbortSignal): Promise<void> {
    const command = new PutMetricDataCommand({
      Namespace: this.namespace,
      MetricData: req.datums.map((d) => ({ ...d, Unit: d.Unit as StandardUnit })),
    });
    try {
      await this.client.send(command, { abortSignal: signal });
    } catch (err) {
      throw classify(err, signal);
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

export function classify(err: unknown, signal?: AbortSignal): TributaryError {
  if (err instanceof TributaryError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  const name = e?.name ?? 'Error';
  const status = e?.$metadata?.httpStatusCode;
  const message = `cloudwatch: PutMetricData failed: ${name}: ${e?.message ?? String(err)}`;
  if (signal?.aborted || name === 'AbortError' || name === 'TimeoutError') return retryableError(message, { reason: 'timeout', cause: err });
  if (THROTTLING.has(name) || status === 429) return retryableError(message, { reason: 'throttled', status, cause: err });
  if (CREDENTIALS.has(name) || /credential/i.test(e?.message ?? '')) return retryableError(message, { reason: 'credentials', status, cause: err });
  if (FORBIDDEN.has(name) || status === 403) return permanentError(message, { reason: 'forbidden', status, cause: err });
  if (status !== undefined && (status >= 500 || status === 408)) return retryableError(message, { reason: `http_${status}`, status, cause: err });
  if (status !== undefined && status >= 400) return permanentError(message, { reason: name === 'InvalidParameterValue' || name === 'InvalidParameterValueException' ? 'invalid_parameter' : `http_${status}`, status, cause: err });
  // No HTTP answer at all: connection refused, reset, DNS …
  return retryableError(message, { reason: 'network', cause: err });
}
