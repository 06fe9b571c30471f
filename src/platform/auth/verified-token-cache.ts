import type { Principal, TokenVerifier } from './token-verifier';

const MAX_AGE_MS = 60_000;
const MAX_ENTRIES = 10_000;

/**
 * Remembers tokens that passed verification, keyed by the whole token string (signature included),
 * until the sooner of their `exp` and one minute. The LLM gateway sends the same token on every
 * call; an RSA verify per charge was a measurable share of the service's CPU in `npm run bench`.
 * Only successes are cached, so a forged or expired token is verified (and refused) every time;
 * a key removed from the JWKS stops being honoured within a minute.
 */
export function withVerifiedTokenCache(verifier: TokenVerifier, now: () => number = Date.now): TokenVerifier {
  const cache = new Map<string, { principal: Principal; until: number }>();
  return {
    async verify(token) {
      const hit = cache.get(token);
      if (hit && hit.until > now()) return hit.principal;
      if (hit) cache.delete(token);
      const principal = await verifier.verify(token);
      const exp = expiryOf(token);
      if (exp !== undefined) {
        if (cache.size >= MAX_ENTRIES) cache.clear(); // bounded: a flood of distinct tokens cannot grow memory
        cache.set(token, { principal, until: Math.min(exp * 1000, now() + MAX_AGE_MS) });
      }
      return principal;
    },
  };
}

/** `exp` of a token that has just been verified (so its payload is well-formed JSON). */
function expiryOf(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp : undefined;
  } catch {
    return undefined;
  }
}
