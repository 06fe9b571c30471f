import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../logger';

const VALID = /^[A-Za-z0-9._:-]{1,128}$/;
const LOG = Symbol('request logger');

interface LogState {
  root: Logger;
  child?: Logger;
}
type WithLog = Request & { [LOG]?: LogState };

// req.log is built on first use: most requests log nothing at LOG_LEVEL=warn, and a child logger
// per request was a visible cost under `npm run bench`. The accessor lives on Express's request
// prototype (its documented extension point), defined once: defining it on each request cost an
// Object.defineProperty and two closures per request. Assigning req.log still replaces it.
Object.defineProperty(express.request, 'log', {
  configurable: true,
  enumerable: true,
  get(this: WithLog): Logger | undefined {
    const state = this[LOG];
    return state && (state.child ??= state.root.child({ correlationId: this.correlationId }));
  },
  set(this: WithLog, value: Logger) {
    const state = this[LOG];
    if (state) state.child = value;
    else Object.defineProperty(this, 'log', { configurable: true, enumerable: true, writable: true, value });
  },
});

/** Accepts a caller's id when it is safe to echo and to store, otherwise replaces it. */
export function correlationId(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.headers['x-correlation-id'];
    req.correlationId = typeof given === 'string' && VALID.test(given) ? given : randomUUID();
    res.setHeader('X-Correlation-Id', req.correlationId);
    (req as WithLog)[LOG] = { root: logger };
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
