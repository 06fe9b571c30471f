import express, { type NextFunction, type Request, type Response } from 'express';
import { badRequest, unreadableBody, unsupportedMediaType } from '../errors';

const BODY_LIMIT_BYTES = 64 * 1024;
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/** JSON only: a body of another type is 415, an oversize one 413, broken JSON 400 (via the error handler). */
export function jsonBody() {
  const parse = express.json({ limit: BODY_LIMIT_BYTES, strict: true, type: () => true });
  return (req: Request, res: Response, next: NextFunction) => {
    if (!WITH_BODY.has(req.method)) return next();
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody) return next();
    if (req.headers['content-type'] !== 'application/json' && !req.is('application/json') && !req.is('application/*+json')) {
      return next(unsupportedMediaType('Send the body as application/json'));
    }
    const checked = (error?: unknown) => {
      if (error) return next(error);
      const where = findUnstorable(req.body, 'body');
      next(where ? badRequest(`${where} contains a NUL character or broken Unicode`, [{ field: where, message: 'NUL characters and lone surrogates are not accepted' }]) : undefined);
    };
    if (plainUtf8WithinLimit(req)) readPlain(req, checked);
    else parse(req, res, checked);
  };
}

/**
 * What nearly every request is: a Content-Length within the limit, no Content-Encoding, no charset
 * parameter (UTF-8). Those are read here; anything else (chunked, compressed, a charset, oversize)
 * goes to body-parser, whose checks and errors stay the reference. body-parser's generality
 * (content-type parsing, iconv, raw-body's bookkeeping) cost ~2% of the server's CPU per charge.
 */
function plainUtf8WithinLimit(req: Request): boolean {
  const { headers } = req;
  if (headers['transfer-encoding'] !== undefined) return false;
  if (headers['content-encoding'] !== undefined && headers['content-encoding'].toLowerCase() !== 'identity') return false;
  if (headers['content-type']?.includes(';')) return false;
  const length = headers['content-length'];
  return length !== undefined && /^\d{1,6}$/.test(length) && Number(length) <= BODY_LIMIT_BYTES;
}

/** Reads and parses the body as body-parser's json() would: BOM dropped, strict (object or array), empty is {}. */
function readPlain(req: Request, done: (error?: unknown) => void) {
  // The client may have left while earlier middleware awaited (the Redis rate limiter): 'close' has
  // fired already and would never reach the listeners below, leaving the request unanswered and unlogged.
  if (req.destroyed) return done(unreadableBody());
  const chunks: Buffer[] = [];
  let finished = false;
  const finish = (error?: unknown) => {
    if (finished) return;
    finished = true;
    req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    done(error);
  };
  const onData = (chunk: Buffer) => chunks.push(chunk);
  const onError = () => finish(unreadableBody());
  const onClose = () => onError(); // closed before 'end': the client went away mid-body
  const onEnd = () => {
    let text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    try {
      req.body = parseStrict(text);
    } catch {
      return finish(badRequest('The body is not valid JSON'));
    }
    finish();
  };
  req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
}

function parseStrict(text: string): unknown {
  if (text.length === 0) return {};
  const first = /^[ \t\n\r]*(.)/.exec(text)?.[1]; // JSON's whitespace, as body-parser skips it
  if (first !== '{' && first !== '[') throw new SyntaxError('strict violation');
  return JSON.parse(text);
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
