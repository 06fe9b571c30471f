import express, { type NextFunction, type Request, type Response } from 'express';
import { AppError, badRequest } from '../errors';

const BODY_LIMIT = '64kb';
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/** JSON only: a body of another type is 415, an oversize one 413, broken JSON 400 (via the error handler). */
export function jsonBody() {
  const parse = express.json({ limit: BODY_LIMIT, strict: true, type: () => true });
  return (req: Request, res: Response, next: NextFunction) => {
    if (!WITH_BODY.has(req.method)) return next();
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody) return next();
    if (!req.is('application/json') && !req.is('application/*+json')) {
      return next(new AppError(415, 'unsupported_media_type', 'Unsupported media type', 'Send the body as application/json'));
    }
    parse(req, res, (error?: unknown) => {
      if (error) return next(error);
      const where = findNul(req.body, 'body');
      next(where ? badRequest(`${where} contains a NUL character`, [{ field: where, message: 'NUL characters are not accepted' }]) : undefined);
    });
  };
}

/** PostgreSQL text and jsonb cannot store U+0000; refuse it up front instead of failing in SQL. */
function findNul(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes('\u0000')) return path;
      const found = findNul(v, `${path === 'body' ? '' : `${path}.`}${k}`);
      if (found) return found;
    }
  }
  return undefined;
}
