import { createPublicKey, type KeyObject } from 'node:crypto';
import jwt, { type JwtPayload } from 'jsonwebtoken';
import { isIdentifier } from '../http/identifiers';
import { withVerifiedTokenCache } from './verified-token-cache';

export interface Principal {
  sub: string;
  scopes: ReadonlySet<string>;
}

export class TokenRejected extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

export interface VerifierOptions {
  publicKey?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

type KeyResolver = (kid: string | undefined) => Promise<KeyObject>;

function staticKey(pem: string): KeyResolver {
  const key = createPublicKey(pem);
  return async () => key;
}

/** JWKS keys cached by kid; an unknown kid refetches at most every 30 s so a forged kid cannot hammer the IdP. */
function jwksKeys(url: string): KeyResolver {
  let keys = new Map<string, KeyObject>();
  let fetchedAt = 0;
  const refresh = async () => {
    fetchedAt = Date.now(); // throttles retries even when the fetch fails
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new TokenRejected('jwks_unavailable', 'signing keys unavailable');
    const body = (await res.json()) as { keys?: Array<Record<string, string>> };
    const next = new Map<string, KeyObject>();
    for (const jwk of body.keys ?? []) {
      if (jwk.kty !== 'RSA' || (jwk.use && jwk.use !== 'sig')) continue;
      next.set(jwk.kid ?? '', createPublicKey({ key: jwk, format: 'jwk' }));
    }
    keys = next;
  };
  return async (kid) => {
    const id = kid ?? '';
    if (!keys.has(id) && Date.now() - fetchedAt > 30_000) await refresh();
    const key = keys.get(id) ?? (kid === undefined && keys.size === 1 ? [...keys.values()][0] : undefined);
    if (!key) throw new TokenRejected('unknown_key', 'token signed by an unknown key');
    return key;
  };
}

const REASONS: Record<string, string> = {
  TokenExpiredError: 'expired',
  NotBeforeError: 'not_yet_valid',
};

export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const resolve = options.publicKey
    ? staticKey(options.publicKey)
    : options.jwksUrl
      ? jwksKeys(options.jwksUrl)
      : undefined;
  return withVerifiedTokenCache({
    async verify(token) {
      if (!resolve) throw new TokenRejected('no_key_configured', 'no verification key configured');
      const decoded = jwt.decode(token, { complete: true });
      if (!decoded || typeof decoded.payload === 'string') throw new TokenRejected('malformed', 'malformed token');
      // Pinned before any key is touched: alg "none" and HS256-with-the-public-key never reach verify.
      if (decoded.header.alg !== 'RS256') throw new TokenRejected('algorithm', 'token algorithm must be RS256');
      const key = await resolve(decoded.header.kid);
      let payload: JwtPayload;
      try {
        payload = jwt.verify(token, key, {
          algorithms: ['RS256'],
          issuer: options.issuer,
          audience: options.audience,
        }) as JwtPayload;
      } catch (error) {
        const e = error as Error;
        const reason =
          REASONS[e.name] ??
          (/issuer/.test(e.message) ? 'wrong_issuer' : /audience/.test(e.message) ? 'wrong_audience' : 'bad_signature');
        throw new TokenRejected(reason, reason === 'expired' ? 'token expired' : 'token rejected');
      }
      if (typeof payload.exp !== 'number') throw new TokenRejected('missing_exp', 'token must carry exp');
      if (typeof payload.sub !== 'string' || payload.sub.length === 0)
        throw new TokenRejected('missing_sub', 'token must carry sub');
      // sub is the wallet's user id: held to the rules of every other id, or it could not be stored or exported
      if (!isIdentifier(payload.sub))
        throw new TokenRejected('invalid_sub', 'token sub must be 1-255 printable characters');
      const scope = typeof payload.scope === 'string' ? payload.scope : '';
      return { sub: payload.sub, scopes: new Set(scope.split(' ').filter(Boolean)) };
    },
  });
}
