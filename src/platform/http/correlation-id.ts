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
    req.log = logger.child({ correlationId: req.correlationId });
    next();
  };
}
