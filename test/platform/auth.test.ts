import { createServer, type Server } from 'node:http';
import { createPublicKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { createTokenVerifier } from '../../src/platform/auth/token-verifier';
import { makeKeyPair } from '../helpers/keys';
import { AUDIENCE, createTestApp, ISSUER, type TestApp } from '../helpers/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const balanceWith = (token: string) => request(t.app).get('/v1/balance').set('Authorization', `Bearer ${token}`);
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const future = () => Math.floor(Date.now() / 1000) + 600;

describe('authentication', () => {
  it('accepts a valid RS256 token and reads the caller own balance', async () => {
    const res = await balanceWith(t.token('alice'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ userId: 'alice', balance: '0', held: '0', available: '0', currency: 'credits' });
  });

  it.each([
    ['no header', undefined],
    ['a non-bearer scheme', 'Basic YWxpY2U6cHc='],
    ['garbage', 'Bearer not.a.jwt'],
  ])('refuses %s with 401 and WWW-Authenticate: Bearer', async (_name, header) => {
    const req = request(t.app).get('/v1/balance');
    if (header) req.set('Authorization', header);
    const res = await req;
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  });

  it('refuses alg "none"', async () => {
    const claims = { sub: 'mallory', exp: future(), iss: ISSUER, aud: AUDIENCE, scope: 'billing:admin' };
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    expect((await balanceWith(token)).status).toBe(401);
  });

  it('refuses HS256 signed with the public key as the secret (algorithm confusion)', async () => {
    const token = jwt.sign(
      { sub: 'mallory', scope: 'billing:admin', iss: ISSUER, aud: AUDIENCE, exp: future() },
      t.keys.publicKey,
      { algorithm: 'HS256' },
    );
    expect((await balanceWith(token)).status).toBe(401);
  });

  it('refuses a token signed by another key', async () => {
    const other = makeKeyPair();
    expect((await balanceWith(t.token('mallory', { key: other.privateKey }))).status).toBe(401);
  });

  it('refuses expired tokens, tokens without exp, and wrong issuer or audience', async () => {
    expect((await balanceWith(t.token('alice', { expiresIn: -10 }))).status).toBe(401);
    expect((await balanceWith(t.token('alice', { noExp: true }))).status).toBe(401);
    expect((await balanceWith(t.token('alice', { issuer: 'https://evil.example/' }))).status).toBe(401);
    expect((await balanceWith(t.token('alice', { audience: 'another-service' }))).status).toBe(401);
  });

  it('accepts an audience list that contains ours', async () => {
    expect((await balanceWith(t.token('alice', { audience: ['other', AUDIENCE] }))).status).toBe(200);
  });

  it('refuses a tampered payload', async () => {
    const [h, , s] = t.token('alice').split('.');
    const claims = { sub: 'alice', scope: 'billing:admin', iss: ISSUER, aud: AUDIENCE, exp: future() };
    const forged = `${h}.${b64(claims)}.${s}`;
    expect((await balanceWith(forged)).status).toBe(401);
  });

  it('answers 403 for a valid token without the needed scope, and lets billing:admin read any user', async () => {
    expect(
      (
        await request(t.app)
          .get('/v1/balance?userId=bob')
          .set('Authorization', `Bearer ${t.token('alice')}`)
      ).status,
    ).toBe(403);
    const admin = await request(t.app).get('/v1/balance?userId=bob').set('Authorization', `Bearer ${t.admin}`);
    expect(admin.status).toBe(200);
    expect(admin.body.userId).toBe('bob');
  });

  it('counts each refusal by reason in billing_auth_failures_total', async () => {
    await balanceWith(t.token('alice', { expiresIn: -10 }));
    const text = await t.metrics.registry.getSingleMetricAsString('billing_auth_failures_total');
    expect(text).toMatch(/billing_auth_failures_total\{reason="expired"\} [1-9]/);
  });
});

describe('the token subject is an id like any other', () => {
  const hostileSubs: [string, string][] = [
    ['U+0000', 'alice\u0000'],
    ['a lone surrogate', 'alice\ud800'],
    ['a control character', 'alice\nbob'],
    ['a C1 control character (U+0085)', 'alice\u0085bob'],
    ['256 characters', 'a'.repeat(256)],
  ];
  const routes: [string, (token: string) => request.Test][] = [
    ['GET /v1/balance', (tk) => request(t.app).get('/v1/balance').set('Authorization', `Bearer ${tk}`)],
    ['GET /v1/ledger', (tk) => request(t.app).get('/v1/ledger').set('Authorization', `Bearer ${tk}`)],
    [
      'GET /v1/ledger/export.csv',
      (tk) => request(t.app).get('/v1/ledger/export.csv').set('Authorization', `Bearer ${tk}`),
    ],
    [
      'POST /v1/credits/purchase',
      (tk) =>
        request(t.app).post('/v1/credits/purchase').set('Authorization', `Bearer ${tk}`).send({ packageId: 'starter' }),
    ],
  ];

  it.each(hostileSubs)(
    'a validly signed token whose sub has %s is refused with 401 invalid_token on every route',
    async (_name, sub) => {
      const token = t.token(sub);
      for (const [name, call] of routes) {
        const res = await call(token);
        expect([name, res.status, res.body.code]).toEqual([name, 401, 'invalid_token']);
        expect(res.headers['www-authenticate']).toBe('Bearer realm="scholarlink-billing", error="invalid_token"');
      }
      const [{ n }] = await t.database.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM accounts WHERE user_id LIKE 'alice%' AND user_id <> 'alice'`,
      );
      expect(n).toBe(0);
    },
  );

  it('counts such a refusal as invalid_sub', async () => {
    await balanceWith(t.token('x\u0000'));
    const text = await t.metrics.registry.getSingleMetricAsString('billing_auth_failures_total');
    expect(text).toMatch(/billing_auth_failures_total\{reason="invalid_sub"\} [1-9]/);
  });

  it('accepts a sub of 255 printable characters, non-ASCII included', async () => {
    const sub = `ü${'a'.repeat(252)}😀`;
    expect(sub).toHaveLength(255);
    expect(sub.isWellFormed()).toBe(true);
    const res = await balanceWith(t.token(sub));
    expect(res.status).toBe(200);
    expect(res.body.userId).toBe(sub);
  });
});

describe('the Authorization scheme', () => {
  it.each(['bearer', 'BEARER', 'BeArEr'])(
    '"%s <token>" is accepted: the scheme is case-insensitive (RFC 9110 §11.1)',
    async (scheme) => {
      const res = await request(t.app)
        .get('/v1/balance')
        .set('Authorization', `${scheme} ${t.token('alice')}`);
      expect(res.status).toBe(200);
      expect(res.body.userId).toBe('alice');
    },
  );

  it('a missing token is 401 unauthorized without an error code; a bad one is invalid_token', async () => {
    const missing = await request(t.app).get('/v1/balance');
    expect([missing.body.code, missing.headers['www-authenticate']]).toEqual([
      'unauthorized',
      'Bearer realm="scholarlink-billing"',
    ]);
    const bad = await balanceWith('not.a.jwt');
    expect([bad.status, bad.body.code]).toEqual([401, 'invalid_token']);
  });
});

describe('JWKS keys', () => {
  let jwks: Server;
  let url: string;
  const keys = makeKeyPair();
  beforeAll(async () => {
    const jwk = { ...createPublicKey(keys.publicKey).export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'RS256' };
    jwks = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })),
    );
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise((r) => jwks.close(r)));

  it('verifies a token by its kid against JWKS_URL and refuses an unknown kid', async () => {
    const verifier = createTokenVerifier({ jwksUrl: url });
    const good = jwt.sign({ sub: 'carol', exp: future() }, keys.privateKey, { algorithm: 'RS256', keyid: 'k1' });
    await expect(verifier.verify(good)).resolves.toMatchObject({ sub: 'carol' });
    const unknown = jwt.sign({ sub: 'carol', exp: future() }, makeKeyPair().privateKey, {
      algorithm: 'RS256',
      keyid: 'k2',
    });
    await expect(verifier.verify(unknown)).rejects.toMatchObject({ reason: 'unknown_key' });
  });
});
