import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, MemoryStore, rateLimit, type Options } from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';
import { SCOPES } from '../auth/auth.middleware';
import { AppError, rateLimited } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { RedisClient } from '../redis/redis-client';
import { BatchedRedisCounter } from './batched-redis-counter';
import { verifiedLimiter, type VerifiedLimiterOptions } from './verified-limiter';

/** Paths that are never limited: Stripe must always reach us, and probes/scrapes/docs are not /v1 traffic. */
export const UNLIMITED_PATHS = ['/v1/webhooks/stripe'];

export interface RateLimitOptions {
  perMinute: number;
  servicePerMinute: number;
  /** Prefixes where a bearer token is verified (app.ts AUTHENTICATED). */
  authenticatedPrefixes: string[];
  metrics: Metrics;
  logger: Logger;
  redis?: RedisClient;
  /** Internal (tests): shorter window and a key namespace of their own. Production uses one minute. */
  windowMs?: number;
  keyPrefix?: string;
}

/**
 * rate-limit-redis loads its Lua script once, at start, and keeps the SHA as a promise: if Redis was
 * down or not yet connected then, that promise stays rejected and the library would fail open
 * forever. The next increment loads it again and is counted on it (a NOSCRIPT after a Redis
 * restart the library handles itself). A flag, not an await: this runs on every request.
 */
class RecoveringRedisStore extends RedisStore {
  private scriptFailed = false;

  override async init(options: Parameters<RedisStore['init']>[0]) {
    const started = super.init(options);
    this.watch();
    return started;
  }

  override increment(key: string) {
    if (this.scriptFailed) {
      this.incrementScriptSha = this.loadIncrementScript();
      this.watch();
    }
    return super.increment(key);
  }

  private watch() {
    this.scriptFailed = false;
    this.incrementScriptSha.then(
      () => undefined,
      () => (this.scriptFailed = true),
    );
  }
}

/** A test for "path is one of prefixes or below one", with the `${prefix}/` strings built once. */
const underAny = (prefixes: string[]) => {
  const below = prefixes.map((p) => `${p}/`);
  return (path: string) => {
    for (let i = 0; i < prefixes.length; i++) if (path === prefixes[i] || path.startsWith(below[i])) return true;
    return false;
  };
};
const unlimited = underAny(UNLIMITED_PATHS);

/**
 * Three limiters, each counted in billing_rate_limited_total{limiter}:
 * - `ip`: traffic that is not (yet) a verified caller — public /v1 routes, requests to authenticated
 *   routes without a token, and requests whose token was rejected — keyed by client address
 *   (`trust proxy` 1: the address the ingress saw);
 * - `user`: a verified caller, keyed by JWT sub, RATE_LIMIT_PER_MINUTE;
 * - `service`: callers holding usage:write (the LLM gateway carries every user's calls), keyed by sub,
 *   SERVICE_RATE_LIMIT_PER_MINUTE.
 * A Redis failure lets the request through (logged): refusing every charge because the limiter's
 * cache is down would take billing down with it.
 */
export function rateLimits(o: RateLimitOptions) {
  const windowMs = o.windowMs ?? 60_000;
  const prefix = o.keyPrefix ?? 'billing:rl:';

  // During a Redis outage every request would log; one line per limiter per 10 s says the same.
  const lastWarned = new Map<string, number>();
  const warn = (limiter: string, error: unknown, message = 'rate-limit store error') => {
    const now = Date.now();
    if (now - (lastWarned.get(limiter) ?? 0) < 10_000) return;
    lastWarned.set(limiter, now);
    const e = error as Error | undefined;
    o.logger.warn({ err: { name: e?.name, message: e?.message }, limiter }, `${message} (failing open)`);
  };

  const redisStore = (name: string) =>
    o.redis &&
    new RecoveringRedisStore({
      prefix: `${prefix}${name}:`,
      sendCommand: (...args: string[]) => o.redis!.sendCommand(args) as never,
    });
  const refuse = (name: string) => (_req: Request, res: Response, next: NextFunction) => {
    o.metrics.rateLimited.inc({ limiter: name });
    const seconds = res.getHeader('Retry-After') ?? Math.ceil(windowMs / 1000);
    next(rateLimited({ retryAfterSeconds: String(seconds) }));
  };

  // `skip` is asked here rather than by express-rate-limit: its middleware is async and awaits the
  // answer, so a request it does not apply to (nearly every request) still cost a few promises.
  const limiter = (
    name: 'ip',
    limit: number,
    skip: (req: Request) => boolean,
    extra: Partial<Options>,
  ): RequestHandler => {
    const limited = rateLimit({
      windowMs,
      limit,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      identifier: name,
      passOnStoreError: true,
      logger: {
        error: (error, message) => warn(name, error, message),
        // Misconfiguration notices from the library itself, not store failures.
        warn: (error, message) =>
          o.logger.warn(
            { err: { message: (error as Error)?.message }, limiter: name },
            message ?? 'rate-limit warning',
          ),
      },
      store: redisStore(name) || undefined,
      handler: refuse(name),
      ...extra,
    });
    return (req, res, next) => (skip(req) ? next() : limited(req, res, next));
  };
  const verified = (name: 'user' | 'service', limit: number, store: VerifiedLimiterOptions['store']) =>
    verifiedLimiter({
      name,
      limit,
      windowMs,
      store,
      limited: refuse(name),
      storeError: (error, message) => warn(name, error, message),
    });
  // The gateway's limit is high and passed by every charge: its hits reach Redis in batches.
  const serviceStore = () =>
    o.redis
      ? new BatchedRedisCounter({
          send: (args) => o.redis!.sendCommand(args),
          prefix: `${prefix}service:`,
          windowMs,
          onError: (error) => warn('service', error),
        })
      : new MemoryStore();

  const authenticated = underAny(o.authenticatedPrefixes);
  const isAnonymousTraffic = (req: Request) => {
    const path = fullPath(req);
    if (!path.startsWith('/v1/') || unlimited(path)) return false;
    if ((req as AuthFailureMark)[AUTH_FAILED]) return true;
    // A bearer request on an authenticated route is counted per user after verification instead.
    return !(req.headers.authorization && authenticated(path));
  };
  const ip = limiter('ip', o.perMinute, (req) => !isAnonymousTraffic(req), {
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? 'unknown'),
  });
  const isService = (req: Request) => req.principal?.scopes.has(SCOPES.usageWrite) === true;
  const user = verified('user', o.perMinute, redisStore('user') || new MemoryStore());
  const service = verified('service', o.servicePerMinute, serviceStore());
  // One handler for the two verified-caller limiters (at most one applies): a second layer on the
  // authenticated prefixes cost every charge another prefix match and baseUrl rewrite in the router.
  const afterAuth: RequestHandler = (req, res, next) => {
    if (!req.principal) return next();
    return isService(req) ? service(req, res, next) : user(req, res, next);
  };

  /** A rejected token counts against its address, so guessing tokens is limited like anonymous traffic. */
  const afterAuthFailure: ErrorRequestHandler = (error, req, res, next) => {
    if (!(error instanceof AppError) || error.status !== 401 || !req.get('authorization')) return next(error);
    (req as AuthFailureMark)[AUTH_FAILED] = true;
    ip(req, res, (limited?: unknown) => next(limited ?? error));
  };

  return { beforeAuth: ip, afterAuth, afterAuthFailure };
}

const AUTH_FAILED = Symbol('authFailed');
type AuthFailureMark = Request & { [AUTH_FAILED]?: boolean };
/**
 * The path as the router matches it, whatever router this runs under: baseUrl + path is the full
 * pathname even inside a mount, and comes without the scheme and host of an absolute-form target
 * (GET http://host/v1/balance), which originalUrl keeps. Lower-cased because routing is
 * case-insensitive: /V1/BALANCE reaches the balance route and must be counted like /v1/balance.
 */
const fullPath = (req: Request) => `${req.baseUrl}${req.path}`.toLowerCase();
