import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger';

const VALID = /^[A-Za-z0-9._:-]{1,128}$/;
const LOG = Symbol('request logger');

interface LogState {
  root: Logger;
  child?: Logger;
}
type WithLog = Request & { [LOG]?: LogState };

/** Accepts a caller's id when it is safe to echo and to store, otherwise replaces it. */
export function correlationId(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.get('x-correlation-id');
    req.correlationId = given && VALID.test(given) ? given : randomUUID();
    res.setHeader('X-Correlation-Id', req.correlationId);
    // Built on first use: most requests log nothing at LOG_LEVEL=warn, and a child logger per
    // request was a visible cost under `npm run bench`. Assigning req.log still replaces it.
    const state: LogState = { root: logger };
    (req as WithLog)[LOG] = state;
    Object.defineProperty(req, 'log', {
      configurable: true,
      enumerable: true,
      get: () => (state.child ??= logger.child({ correlationId: req.correlationId })),
      set: (value: Logger) => (state.child = value),
    });
    next();
  };
}

/**
 * Whether req.log would write at `level`, without building the lazy child logger to ask it: a child
 * has its parent's level, so until one exists (or one was assigned) the parent answers. Reading
 * req.log just to ask built a pino child per request (bindings serialised, redaction run).
 */
export function wouldLog(req: Request, level: string): boolean {
  const state = (req as WithLog)[LOG];
  if (!state) return req.log.isLevelEnabled(level);
  return (state.child ?? state.root).isLevelEnabled(level);
}
