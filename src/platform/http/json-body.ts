import express, { type NextFunction, type Request, type Response } from 'express';
import { type AppError, badRequest, jsonTooDeep, unreadableBody, unsupportedMediaType } from '../errors';
import { findFlaw, MAX_JSON_DEPTH, scanJson, type Flaw } from './json-shape';

export const BODY_LIMIT_BYTES = 64 * 1024;
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);
const MEMBERS = Symbol('JSON members declared in the raw body');

type Scanned = Request & { [MEMBERS]?: number };

function refusal(flaw: Flaw): AppError {
  switch (flaw.kind) {
    case 'unstorable':
      return badRequest(`${flaw.field} contains a NUL character or broken Unicode`, [
        { field: flaw.field, message: 'NUL characters and lone surrogates are not accepted' },
      ]);
    case 'not_finite':
      return badRequest(`${flaw.field} is a number out of range`, [
        { field: flaw.field, message: 'must be a finite number (at most about 1.8e308)' },
      ]);
    case 'duplicate_key':
      return badRequest('The body repeats a key within one object', [
        { field: 'body', message: 'duplicate keys are not accepted' },
      ]);
  }
}

/**
 * Runs between reading and parsing (body-parser's verify hook), on the decoded-from-gzip bytes:
 * UTF-8 only (RFC 8259 §8.1), and the depth limit enforced before JSON.parse builds anything.
 */
function verify(req: Request, _res: Response, bytes: Buffer, encoding: string) {
  if (encoding !== 'utf-8') throw unsupportedMediaType('JSON bodies must be UTF-8');
  const members = scanJson(bytes);
  if (members < 0) throw jsonTooDeep(MAX_JSON_DEPTH);
  (req as Scanned)[MEMBERS] = members;
}

/**
 * JSON only, read by express.json() (body-parser: size limit, Content-Encoding, charset, strict
 * top level): another type is 415, an oversize body 413, broken JSON 400 (via the error handler);
 * then bounded: at most MAX_JSON_DEPTH levels, no NUL or lone surrogate, no 1e400, no duplicate key.
 */
export function jsonBody() {
  const parse = express.json({ limit: BODY_LIMIT_BYTES, strict: true, type: () => true, verify });
  return (req: Request, res: Response, next: NextFunction) => {
    if (!WITH_BODY.has(req.method)) return next();
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody) return next();
    if (
      req.headers['content-type'] !== 'application/json' &&
      !req.is('application/json') &&
      !req.is('application/*+json')
    ) {
      return next(unsupportedMediaType('Send the body as application/json'));
    }
    // The client may have left while earlier middleware awaited (the Redis rate limiter): body-parser
    // would then see a finished request and pass it on without a body.
    if (req.destroyed) return next(unreadableBody());
    // Called from the request stream's 'end' handler: whatever this throws must reach next(), not the stream.
    parse(req, res, (error?: unknown) => {
      let outcome: unknown = error;
      if (!error) {
        try {
          const flaw = findFlaw(req.body, (req as Scanned)[MEMBERS] ?? 0);
          outcome = flaw && refusal(flaw);
        } catch (thrown) {
          outcome = thrown;
        }
      }
      next(outcome);
    });
  };
}
