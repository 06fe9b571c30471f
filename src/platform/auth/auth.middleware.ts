import type { NextFunction, Request, Response } from 'express';
import { forbidden, invalidToken, unauthorized } from '../errors';
import type { Metrics } from '../metrics';
import { TokenRejected, type Principal, type TokenVerifier } from './token-verifier';

export const SCOPES = { usageWrite: 'usage:write', admin: 'billing:admin' } as const;

export function authenticate(verifier: TokenVerifier, metrics?: Metrics) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('authorization');
    // The scheme is case-insensitive and may be followed by several spaces (RFC 9110 §11.1, §11.4).
    const match = header ? /^bearer +([A-Za-z0-9._~+/-]+=*)$/i.exec(header) : null;
    if (!match) {
      metrics?.authFailures.inc({ reason: header ? 'malformed' : 'missing' });
      return next(unauthorized(header ? 'Authorization must be "Bearer <token>"' : 'A bearer token is required'));
    }
    try {
      req.principal = await verifier.verify(match[1]);
      next();
    } catch (error) {
      const reason = error instanceof TokenRejected ? error.reason : 'error';
      metrics?.authFailures.inc({ reason });
      req.log?.warn({ reason }, 'authentication failed');
      next(invalidToken(error instanceof TokenRejected ? error.message : 'token rejected'));
    }
  };
}

export function requireScope(scope: string) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!req.principal?.scopes.has(scope)) return next(forbidden(`This requires the ${scope} scope`));
    next();
  };
}

export const principalOf = (req: Request): Principal => {
  if (!req.principal) throw unauthorized('A bearer token is required');
  return req.principal;
};

/** The wallet a read is about: the caller's own, or another's for billing:admin. */
export function targetUserId(req: Request, requested: string | undefined): string {
  const p = principalOf(req);
  if (requested === undefined || requested === p.sub) return p.sub;
  if (!p.scopes.has(SCOPES.admin)) throw forbidden('Reading another user requires the billing:admin scope');
  return requested;
}
