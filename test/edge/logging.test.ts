import request from 'supertest';
import { captureLogs } from '../helpers/log-capture';
import { createTestApp, type TestApp } from '../helpers/test-app';

const logs = captureLogs('debug');
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ deps: { logger: logs.logger } });
});
afterAll(() => t.close());

const SECRETS = {
  cookie: 'session=cookie-secret-7f3a',
  signature: 't=1700000000,v1=sig-secret-9b2c',
  password: 'hunter2-password-value',
  token: 'body-token-value-41d8',
  apiKey: 'sk_live_body_secret_55aa',
};

describe('request logs', () => {
  it('writes one line per request with correlation id, user, route, status, duration, and no credential', async () => {
    const res = await request(t.app)
      .post('/v1/usage/reconcile')
      .set('Authorization', `Bearer ${t.gateway}`)
      .set('Cookie', SECRETS.cookie)
      .set('Stripe-Signature', SECRETS.signature)
      .set('X-Correlation-Id', 'corr-log-1')
      .send({
        userId: 'u',
        requestId: 'r',
        password: SECRETS.password,
        token: SECRETS.token,
        nested: { apiKey: SECRETS.apiKey },
      });
    expect(res.status).toBe(400);
    const failing = await request(t.app)
      .get('/v1/balance')
      .set('Authorization', 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.forged-token-c0ffee')
      .set('X-Correlation-Id', 'corr-log-2');
    expect(failing.status).toBe(401);

    const raw = logs.raw();
    for (const value of [t.gateway, 'forged-token-c0ffee', ...Object.values(SECRETS), 'cookie-secret', 'sig-secret']) {
      expect(raw).not.toContain(value);
    }

    const lines = logs.lines();
    const first = lines.filter((l) => l.correlationId === 'corr-log-1' && l.msg === 'request');
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      level: 'info',
      service: 'scholarlink-billing',
      userId: 'llm-gateway',
      route: '/v1/usage/reconcile',
      method: 'POST',
      status: 400,
    });
    expect(typeof first[0].durationMs).toBe('number');
    expect(typeof first[0].time).toBe('string');

    const second = lines.filter((l) => l.correlationId === 'corr-log-2' && l.msg === 'request');
    expect(second).toHaveLength(1);
    expect(second[0]).toMatchObject({ status: 401 });
    expect(second[0].userId).toBeUndefined();
  });

  it('redacts credential fields wherever a line carries them', () => {
    const capture = captureLogs('info');
    capture.logger.info(
      {
        req: { headers: { authorization: 'Bearer abc.def.ghi', cookie: 'a=b', 'stripe-signature': 'v1=zzz' } },
        config: { STRIPE_SECRET_KEY: 'sk_test_zzz', DATABASE_URL: 'postgresql://u:pw@h/db' },
        body: { password: 'pw1', token: 'tk1', secret: 's1' },
      },
      'probe',
    );
    const text = capture.raw();
    for (const value of ['abc.def.ghi', 'a=b', 'v1=zzz', 'sk_test_zzz', 'u:pw@h', 'pw1', 'tk1', '"s1"'])
      expect(text).not.toContain(value);
    expect(text).toContain('[redacted]');
  });
});
