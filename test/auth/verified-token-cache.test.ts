import {
  createTokenVerifier,
  TokenRejected,
  type Principal,
  type TokenVerifier,
} from '../../src/platform/auth/token-verifier';
import { withVerifiedTokenCache } from '../../src/platform/auth/verified-token-cache';
import { makeKeyPair, signToken } from '../helpers/keys';

const keys = makeKeyPair();
const other = makeKeyPair();

/** Counts how often the real verifier runs underneath the cache. */
function counting(inner: TokenVerifier) {
  const calls = { n: 0 };
  const verifier: TokenVerifier = {
    verify(token: string): Promise<Principal> {
      calls.n++;
      return inner.verify(token);
    },
  };
  return { verifier, calls };
}

describe('verified token cache', () => {
  it('verifies a repeated token once and answers the same principal', async () => {
    const { verifier, calls } = counting(createTokenVerifier({ publicKey: keys.publicKey }));
    const cached = withVerifiedTokenCache(verifier);
    const token = signToken(keys, 'llm-gateway', { scope: 'usage:write' });
    const first = await cached.verify(token);
    const second = await cached.verify(token);
    expect(second).toBe(first);
    expect(first.scopes.has('usage:write')).toBe(true);
    expect(calls.n).toBe(1);
  });

  it('verifies a forged token every time and never lets it through', async () => {
    const { verifier, calls } = counting(createTokenVerifier({ publicKey: keys.publicKey }));
    const cached = withVerifiedTokenCache(verifier);
    const forged = signToken(other, 'attacker', { scope: 'billing:admin' });
    await expect(cached.verify(forged)).rejects.toBeInstanceOf(TokenRejected);
    await expect(cached.verify(forged)).rejects.toBeInstanceOf(TokenRejected);
    expect(calls.n).toBe(2);
  });

  it('stops honouring a cached token at its exp, even within the cache minute', async () => {
    let now = Date.now();
    const { verifier, calls } = counting(createTokenVerifier({ publicKey: keys.publicKey }));
    const cached = withVerifiedTokenCache(verifier, () => now);
    const token = signToken(keys, 'user-1', { expiresIn: 10 });
    await cached.verify(token);
    now += 11_000; // past exp; the real verifier (on the real clock) would still accept it
    await cached.verify(token);
    expect(calls.n).toBe(2);
  });

  it('verifies again after a minute even when exp is further away', async () => {
    let now = Date.now();
    const { verifier, calls } = counting(createTokenVerifier({ publicKey: keys.publicKey }));
    const cached = withVerifiedTokenCache(verifier, () => now);
    const token = signToken(keys, 'user-1', { expiresIn: 3600 });
    await cached.verify(token);
    now += 30_000;
    await cached.verify(token);
    expect(calls.n).toBe(1);
    now += 31_000;
    await cached.verify(token);
    expect(calls.n).toBe(2);
  });
});
