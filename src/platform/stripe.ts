import Stripe from 'stripe';
import type { Config } from './config';

export type { Stripe };

/**
 * The Stripe client, or undefined when no secret key is configured (the purchase route then
 * answers 503 instead of crashing). STRIPE_API_BASE_URL points the SDK at another
 * Stripe-compatible server, such as the test double, through its host/port/protocol options.
 */
export function createStripe(config: Pick<Config, 'STRIPE_SECRET_KEY' | 'STRIPE_API_BASE_URL'>): Stripe | undefined {
  if (!config.STRIPE_SECRET_KEY) return undefined;
  const options: ConstructorParameters<typeof Stripe>[1] = {
    // The SDK retries network errors and 409/5xx with the same idempotency key, so a retry is safe.
    maxNetworkRetries: 2,
    timeout: 10_000,
    telemetry: false,
    appInfo: { name: 'scholarlink-billing' },
  };
  if (config.STRIPE_API_BASE_URL) {
    const url = new URL(config.STRIPE_API_BASE_URL);
    const protocol = url.protocol === 'http:' ? 'http' : 'https';
    options.host = url.hostname;
    options.port = url.port || (protocol === 'http' ? 80 : 443);
    options.protocol = protocol;
  }
  return new Stripe(config.STRIPE_SECRET_KEY, options);
}

/** Signature checks need no API key; the SDK's static helper verifies without a client. */
export const stripeWebhooks = Stripe.webhooks;
