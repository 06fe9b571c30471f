import express, { Router } from 'express';
import request from 'supertest';
import { createLogger } from '../../src/platform/logger';
import { createMetrics } from '../../src/platform/metrics';
import { correlationId } from '../../src/platform/http/correlation-id';
import { requestLogger } from '../../src/platform/http/request-logger';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { grant, reconcile } from '../helpers/wallets';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const scrape = async (app: express.Express) => {
  const res = await request(app).get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text;
};
const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('GET /metrics', () => {
  it('exposes every named series after traffic, labelled by route template', async () => {
    await grant(t, 'metered-user', '1000');
    expect(
      (
        await reconcile(t, {
          userId: 'metered-user',
          requestId: 'm-1',
          model: 'gpt-4o',
          inputTokens: 1000,
          outputTokens: 500,
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await reconcile(t, {
          userId: 'broke-user',
          requestId: 'm-2',
          model: 'gpt-4o',
          inputTokens: 1000,
          outputTokens: 500,
        })
      ).status,
    ).toBe(402);
    await request(t.app).get('/v1/ledger?limit=5&userId=metered-user').set('Authorization', `Bearer ${t.admin}`);
    await request(t.app).get('/v1/balance').set('Authorization', 'Bearer nope');
    await request(t.app).get('/v1/no-such-thing/8c7e1d0a-1111-2222-3333-444455556666');

    const text = await scrape(t.app);
    expect(sample(text, 'http_requests_total{method="POST",route="/v1/usage/reconcile",status="201"}')).toBe(1);
    expect(sample(text, 'http_requests_total{method="POST",route="/v1/usage/reconcile",status="402"}')).toBe(1);
    expect(sample(text, 'http_requests_total{method="GET",route="/v1/ledger",status="200"}')).toBe(1);
    expect(sample(text, 'http_request_duration_seconds_count{method="GET",route="/v1/ledger",status="200"}')).toBe(1);
    expect(sample(text, 'http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    // Raw paths and query strings never become label values (unbounded cardinality).
    expect(text).not.toContain('8c7e1d0a');
    expect(text).not.toContain('limit=5');
    expect(text).not.toContain('metered-user');

    expect(sample(text, 'billing_credits_debited_total{model="gpt-4o"}')).toBe(50);
    expect(sample(text, 'billing_usage_reconciliations_total{outcome="charged"}')).toBe(1);
    expect(sample(text, 'billing_insufficient_funds_total{operation="charge"}')).toBe(1);
    expect(sample(text, 'billing_auth_failures_total{reason="malformed"}')).toBe(1);
    expect(sample(text, 'billing_db_query_duration_seconds_count{operation="charge_usage"}')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'billing_db_query_duration_seconds_count{operation="post_wallet"}')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    for (const name of [
      'billing_credits_purchased_total',
      'billing_credits_bonus_total',
      'billing_credits_refunded_total',
      'billing_credits_disputed_total',
      'billing_webhook_events_total',
      'billing_rate_limited_total',
      'billing_ledger_invariants_ok',
      'billing_holds_active',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it('reads the database pool gauges from the live pool at scrape time', async () => {
    const held = await Promise.all([t.database.db.pool.connect(), t.database.db.pool.connect()]);
    try {
      const text = await scrape(t.app);
      const pool = t.database.db.pool;
      expect(sample(text, 'billing_db_pool_connections{state="in_use"}')).toBe(pool.totalCount - pool.idleCount);
      expect(sample(text, 'billing_db_pool_connections{state="in_use"}')).toBeGreaterThanOrEqual(2);
      expect(sample(text, 'billing_db_pool_connections{state="idle"}')).toBe(pool.idleCount);
      expect(sample(text, 'billing_db_pool_connections{state="waiting"}')).toBe(0);
    } finally {
      held.forEach((c) => c.release());
    }
    const after = await scrape(t.app);
    expect(sample(after, 'billing_db_pool_connections{state="in_use"}')).toBe(0);
  });
});

describe('request metrics labels', () => {
  it('labels a parameterised route by its template, not by the id in the path', async () => {
    const metrics = createMetrics();
    const app = express();
    app.use(correlationId(createLogger('silent')), requestLogger(metrics));
    const router = Router();
    router.get('/v1/things/:thingId', (_req, res) => void res.json({ ok: true }));
    app.use(router);
    await request(app).get('/v1/things/abc-123');
    await request(app).get('/v1/things/def-456');
    const text = await metrics.registry.metrics();
    expect(sample(text, 'http_requests_total{method="GET",route="/v1/things/:thingId",status="200"}')).toBe(2);
    expect(text).not.toContain('abc-123');
  });
});
