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
      const where = findUnstorable(req.body, 'body');
      next(where ? badRequest(`${where} contains a NUL character or broken Unicode`, [{ field: where, message: 'NUL characters and lone surrogates are not accepted' }]) : undefined);
    });
  };
}

// PostgreSQL cannot store U+0000, and turns a lone surrogate into U+FFFD, which would let two
// different ids ("s\ud800", "s\udbff") become one. Refuse both up front.
const unstorable = (s: string) => s.includes('\u0000') || !s.isWellFormed();

function findUnstorable(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return unstorable(value) ? path : undefined;
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (unstorable(k)) return path;
      const found = findUnstorable(v, `${path === 'body' ? '' : `${path}.`}${k}`);
      if (found) return found;
    }
  }
  return undefined;
}
