import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';

export interface DevKeys {
  publicKey: string;
  privateKey: string;
}

/** A local RS256 key pair under .data/ (never committed), made once and reused. */
export function loadOrCreateDevKeys(dir: string): DevKeys {
  const pub = path.join(dir, 'dev-jwt-public.pem');
  const priv = path.join(dir, 'dev-jwt-private.pem');
  if (!fs.existsSync(pub) || !fs.existsSync(priv)) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(pub, publicKey);
    fs.writeFileSync(priv, privateKey, { mode: 0o600 });
  }
  return { publicKey: fs.readFileSync(pub, 'utf8'), privateKey: fs.readFileSync(priv, 'utf8') };
}

export function signDevToken(
  keys: DevKeys,
  sub: string,
  scope: string | undefined,
  options: { issuer?: string; audience?: string; ttl?: string } = {},
): string {
  return jwt.sign(scope ? { scope } : {}, keys.privateKey, {
    algorithm: 'RS256',
    subject: sub,
    expiresIn: (options.ttl ?? '12h') as jwt.SignOptions['expiresIn'],
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
  });
}
