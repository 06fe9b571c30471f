import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger';

const VALID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a caller's id when it is safe to echo and to store, otherwise replaces it. */
export function correlationId(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.get('x-correlation-id');
    req.correlationId = given && VALID.test(given) ? given : randomUUID();
    res.setHeader('X-Correlation-Id', req.correlationId);
    // Built on first use: most requests log nothing at LOG_LEVEL=warn, and a child logger per
    // request was a visible cost under `npm run bench`. Assigning req.log still replaces it.
    let child: Logger | undefined;
    Object.defineProperty(req, 'log', {
      configurable: true,
      enumerable: true,
      get: () => (child ??= logger.child({ correlationId: req.correlationId })),
      set: (value: Logger) => (child = value),
    });
    next();
  };
}
