import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';

/**
 * RS256 key pairs and tokens for tests, the bench and the go-live checks: keys are made at run time, none is committed.
 */
export function makeKeyPair() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

export type KeyPair = ReturnType<typeof makeKeyPair>;

export interface TokenOptions {
  scope?: string;
  issuer?: string;
  audience?: string | string[];
  expiresIn?: number;
  noExp?: boolean;
  key?: string;
  algorithm?: jwt.Algorithm;
}

export function signToken(keys: KeyPair, sub: string, o: TokenOptions = {}): string {
  const payload: Record<string, unknown> = { sub };
  if (o.scope) payload.scope = o.scope;
  if (o.issuer) payload.iss = o.issuer;
  if (o.audience) payload.aud = o.audience;
  if (!o.noExp) payload.exp = Math.floor(Date.now() / 1000) + (o.expiresIn ?? 3600);
  return jwt.sign(payload, o.key ?? keys.privateKey, { algorithm: o.algorithm ?? 'RS256' });
}
