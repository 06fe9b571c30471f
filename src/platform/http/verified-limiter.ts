import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';

export interface VerifiedLimiterOptions {
  name: 'user' | 'service';
  limit: number;
  windowMs: number;
  /** MemoryStore or the Redis store: both answer with a promise. */
  store: Pick<Store, 'init'> & { increment(key: string): Promise<ClientRateLimitInfo> };
  /** Called with Retry-After already set, like express-rate-limit's `handler`. */
  limited: (req: Request, res: Response, next: NextFunction) => void;
  /** A store failure: the request goes on (fail open), like `passOnStoreError`. */
  storeError: (error: unknown, message: string) => void;
}

/**
 * The per-caller limiter every charge passes, keyed by the verified JWT sub: the same store, count,
 * draft-8 RateLimit / RateLimit-Policy headers, Retry-After and fail-open as express-rate-limit's
 * middleware (which the `ip` limiter still uses), in one store call and one `then`. The library's
 * middleware awaited six values per request, called debug() with req.ip (a proxy-addr walk) and
 * hashed the key for the policy's partition key each time; in paired A/B runs it was the largest
 * middleware cost of a charge.
 */
export function verifiedLimiter(o: VerifiedLimiterOptions): RequestHandler {
  // As express-rate-limit does: a store that cannot start (Redis down) is logged, not fatal.
  try {
    const started = o.store.init?.({ windowMs: o.windowMs } as Options);
    if (started instanceof Promise)
      started.catch((error: unknown) =>
        o.storeError(error, 'express-rate-limit: async error during store initialization.'),
      );
  } catch (error) {
    o.storeError(error, 'express-rate-limit: error during store initialization.');
  }
  const windowSeconds = Math.ceil(o.windowMs / 1000);
  // The gateway is one sub: its policy header is built once, not hashed per request.
  let lastKey: string | undefined;
  let lastPolicy = '';
  const policy = (key: string) => {
    if (key !== lastKey) {
      lastKey = key;
      lastPolicy = `"${o.name}"; q=${o.limit}; w=${windowSeconds}; pk=:${partitionKey(key)}:`;
    }
    return lastPolicy;
  };
  const resetSeconds = (resetTime: Date | undefined) =>
    resetTime ? Math.max(0, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : windowSeconds;

  return (req, res, next) => {
    const key = req.principal!.sub;
    o.store.increment(key).then(
      ({ totalHits, resetTime }) => {
        const remaining = Math.max(o.limit - totalHits, 0);
        if (!res.headersSent) {
          res.append('RateLimit', `"${o.name}"; r=${remaining}; t=${resetSeconds(resetTime)}`);
          res.append('RateLimit-Policy', policy(key));
        }
        if (totalHits <= o.limit) return next();
        if (!res.headersSent) res.setHeader('Retry-After', resetSeconds(resetTime).toString());
        o.limited(req, res, next);
      },
      (error: unknown) => {
        o.storeError(error, 'express-rate-limit: error from store, allowing request without rate-limiting.');
        next();
      },
    );
  };
}

/** express-rate-limit's draft-8 partition key: base64 of the first 12 hex digits of sha256(key). */
const partitionKey = (key: string) =>
  Buffer.from(createHash('sha256').update(key).digest('hex').slice(0, 12)).toString('base64');
