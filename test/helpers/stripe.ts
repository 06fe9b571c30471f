import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { AppDeps } from '../../src/app';
import { createStripe, stripeWebhooks } from '../../src/platform/stripe';
import { StripeDouble } from '../stripe-double/stripe-double.server';
import { createTestApp, type TestApp } from './test-app';

export interface StripeTestApp extends TestApp {
  double: StripeDouble;
  webhookSecret: string;
  /** POSTs a signed event to the webhook, as Stripe would. */
  deliver(
    event: unknown,
    o?: {
      secret?: string;
      timestamp?: number;
      correlationId?: string;
      body?: string;
      tamper?: (signed: string) => string;
    },
  ): request.Test;
  /** Starts a purchase as `userId` and returns the 201 body. */
  purchase(
    userId: string,
    packageId?: string,
  ): Promise<{ purchaseId: string; stripeCheckoutSessionId: string; [k: string]: unknown }>;
}

/**
 * A test app wired to a Stripe test double over real HTTP: the secret key and webhook secret
 * are generated here, and STRIPE_API_BASE_URL points the real SDK at the double.
 */
export async function createStripeTestApp(
  options: { env?: Record<string, string>; deps?: Partial<AppDeps> } = {},
): Promise<StripeTestApp> {
  const double = new StripeDouble();
  const url = await double.start();
  const webhookSecret = `whsec_${randomBytes(24).toString('base64url')}`;
  const env = {
    STRIPE_SECRET_KEY: double.secretKey,
    STRIPE_WEBHOOK_SECRET: webhookSecret,
    STRIPE_API_BASE_URL: url,
    ...options.env,
  };
  const t = await createTestApp({
    env,
    deps: {
      stripe: createStripe({ STRIPE_SECRET_KEY: env.STRIPE_SECRET_KEY, STRIPE_API_BASE_URL: url }),
      ...options.deps,
    },
  });

  const deliver: StripeTestApp['deliver'] = (event, o = {}) => {
    const payload = o.body ?? JSON.stringify(event, null, 2);
    const header = stripeWebhooks.generateTestHeaderString({
      payload,
      secret: o.secret ?? webhookSecret,
      timestamp: o.timestamp,
    });
    const req = request(t.app)
      .post('/v1/webhooks/stripe')
      .set('Content-Type', 'application/json')
      .set('Stripe-Signature', header);
    if (o.correlationId) req.set('X-Correlation-Id', o.correlationId);
    return req.send(o.tamper ? o.tamper(payload) : payload);
  };

  const purchase: StripeTestApp['purchase'] = async (userId, packageId = 'starter') => {
    const res = await request(t.app)
      .post('/v1/credits/purchase')
      .set('Authorization', `Bearer ${t.token(userId)}`)
      .send({ packageId });
    if (res.status !== 201) throw new Error(`purchase failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };

  return {
    ...t,
    double,
    webhookSecret,
    deliver,
    purchase,
    async close() {
      await double.stop();
      await t.close();
    },
  };
}
