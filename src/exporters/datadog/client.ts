/**
 * Sends one payload to the intake and classifies the answer once, here:
 * 2xx delivered; 403/401 (bad API key or wrong site) permanent; 413 and other
 * 4xx permanent; 408, 429 and 5xx retryable (429 with the wait the intake
 * asks for); network failures retryable.
 */
import type { Logger } from 'pino';
import { errorFromHttpStatus, parseRetryAfter, permanentError, retryableError, TributaryError } from '../../errors.ts';
import type { DdPayload } from './request.ts';

const USER_AGENT = 'tributary/0.1.0';

export class DatadogClient {
  private readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly logger: Logger;

  constructor(baseUrl: string, apiKey: string, logger: Logger) {
    this.baseUrl = baseUrl;
    this.apiKey = apiKey;
    this.logger = logger;
  }

  async send(p: DdPayload, signal: AbortSignal): Promise<void> {
    const headers: Record<string, string> = {
      'DD-API-KEY': this.apiKey,
      'Content-Type': p.contentType,
      'User-Agent': USER_AGENT,
    };
    if (p.encoding !== 'none') headers['Content-Encoding'] = p.encoding;
    let res: Response;
    try {
      res = await fetch(this.baseUrl + p.path, { method: 'POST', headers, body: p.body, signal });
    } catch (err) {
      if (signal.aborted) throw retryableError(`datadog: request to ${p.path} timed out`, { reason: 'timeout', cause: err });
      throw retryableError(`datadog: request to ${p.path} failed: ${causeMessage(err)}`, { reason: 'network', cause: err });
    }
    // Drain the body so the connection can be reused; the text explains errors.
    const text = await res.text().catch(() => '');
    if (res.status >= 200 && res.status < 300) return;
    throw classify(res, text, this.baseUrl + p.path, this.logger);
  }
}

function classify(res: Response, text: string, url: string, logger: Logger): TributaryError {
  const detail = text.slice(0, 300);
  if (res.status === 403 || res.status === 401) {
    return permanentError(`datadog: ${url} refused the API key (${res.status}): check api.key and that api.site matches the key's site`, {
      status: res.status,
      reason: 'forbidden',
    });
  }
  if (res.status === 413) return permanentError(`datadog: payload too large for ${url}: ${detail}`, { status: 413, reason: 'too_large' });
  let retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
  if (retryAfterMs === undefined && res.status === 429) {
    // Datadog's rate limiter announces the seconds left in the window.
    const reset = Number(res.headers.get('x-ratelimit-reset'));
    if (Number.isFinite(reset) && reset > 0) retryAfterMs = reset * 1000;
  }
  if (res.status >= 500) logger.debug({ status: res.status, detail }, 'datadog intake error');
  return errorFromHttpStatus(res.status, `datadog: ${url} answered ${res.status}: ${detail}`, retryAfterMs);
}

function causeMessage(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? String(err);
}
