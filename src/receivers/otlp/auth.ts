/** Bearer-token check shared by both transports; the token is a secret and is never logged. */
import { createHash, timingSafeEqual } from 'node:crypto';

export type BearerCheck = (authorization: string | undefined) => boolean;

/** A checker comparing in constant time (digests, so lengths never leak either). */
export function bearerChecker(token: string | undefined): BearerCheck | undefined {
  if (token === undefined) return undefined;
  const expected = createHash('sha256').update(token).digest();
  return (authorization) => {
    if (authorization === undefined) return false;
    const m = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (!m) return false;
    return timingSafeEqual(createHash('sha256').update(m[1]).digest(), expected);
  };
}
