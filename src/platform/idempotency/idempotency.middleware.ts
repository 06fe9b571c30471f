import type { NextFunction, Request, Response } from 'express';
import { badRequest, conflict, databaseUnavailable, internalError, unprocessable } from '../errors';
import { isDatabaseUnavailable } from '../db/db-faults';
import { problemBody } from '../http/problem';
import { principalOf } from '../auth/auth.middleware';
import { payloadHash } from '../payload-hash';
import type { IdempotencyRepository } from './idempotency.repository';

const KEY = /^[\x20-\x7E]{1,255}$/;

// Remembered: requests that were carried out, and refusals for lack of credits. Validation errors
// and failures are not, so a corrected retry may reuse its key (as Stripe does).
const remembered = (status: number) => (status >= 200 && status < 300) || status === 402;

/**
 * Idempotency-Key for money-moving POSTs, scoped per caller (the token's sub): same key and
 * payload replays the first response; another payload is 422; a request still running is 409.
 */
export function idempotency(repo: IdempotencyRepository, options: { required: boolean }) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const key = req.get('idempotency-key');
    if (key === undefined) {
      return next(
        options.required
          ? badRequest('The Idempotency-Key header is required', [{ field: 'Idempotency-Key', message: 'required' }])
          : undefined,
      );
    }
    if (!KEY.test(key)) {
      return next(
        badRequest('Idempotency-Key must be 1-255 printable ASCII characters', [
          { field: 'Idempotency-Key', message: 'invalid' },
        ]),
      );
    }
    const caller = principalOf(req).sub;
    const hash = payloadHash({ method: req.method, path: req.baseUrl + req.path, body: req.body });
    if (!(await repo.claim(caller, key, req.method, req.baseUrl + req.path, hash))) {
      const stored = await repo.find(caller, key);
      if (!stored) return next(conflict('idempotency_retry', 'The first request with this key just finished; retry.'));
      if (stored.requestHash !== hash) {
        return next(unprocessable('idempotency_key_reused', 'This Idempotency-Key was used with a different request'));
      }
      if (stored.state === 'in_progress') {
        return next(
          conflict('idempotency_in_progress', 'A request with this Idempotency-Key is still being processed'),
        );
      }
      res.setHeader('Idempotent-Replayed', 'true');
      const status = stored.statusCode ?? 200;
      res.status(status).type(status >= 400 ? 'application/problem+json' : 'application/json');
      return res.send(JSON.stringify(stored.responseBody));
    }

    // The outcome is stored before the response leaves, so a retry never sees a stale claim.
    const send = res.send.bind(res);
    res.send = ((body?: unknown) => {
      const finish = remembered(res.statusCode)
        ? repo.complete(caller, key, res.statusCode, typeof body === 'string' ? JSON.parse(body) : body)
        : repo.release(caller, key);
      finish.then(
        () => send(body),
        (error) => {
          req.log.error({ err: error }, 'could not store idempotent response');
          // A database fault here is answered like any other (503 + Retry-After), never as a bare 500.
          const problem = isDatabaseUnavailable(error) ? databaseUnavailable() : internalError();
          for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
          res.status(problem.status).type('application/problem+json');
          send(JSON.stringify(problemBody(req, problem)));
        },
      );
      return res;
    }) as Response['send'];
    next();
  };
}
