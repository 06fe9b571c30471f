import { z } from 'zod';
import { documentRoute, json, problems } from '../../platform/openapi/registry';

export const WebhookAckSchema = z
  .object({
    received: z.literal(true),
    eventId: z.string(),
    // failed: acknowledged without effect because Stripe refused our own lookup (401/403); recorded
    // for a resend once the key is fixed, and alerted on (docs/faults.md).
    outcome: z.enum(['processed', 'duplicate', 'ignored', 'failed']),
  })
  .openapi('WebhookAck');

documentRoute({
  method: 'post',
  path: '/v1/webhooks/stripe',
  summary: 'Stripe events (signed, raw body). Each event id takes effect at most once.',
  description:
    'Verified with STRIPE_WEBHOOK_SECRET (300 s tolerance). Handled: checkout.session.completed, ' +
    'checkout.session.async_payment_succeeded, checkout.session.async_payment_failed, checkout.session.expired, ' +
    'charge.refunded, charge.dispute.created, charge.dispute.closed; any other type is acknowledged and ignored.',
  operationId: 'receiveStripeWebhook',
  tags: ['webhooks'],
  security: [], // authenticated by the Stripe-Signature HMAC, not a bearer token
  request: {
    headers: z.object({ 'Stripe-Signature': z.string() }),
    body: { content: { 'application/json': { schema: z.object({ id: z.string(), type: z.string() }).passthrough() } } },
  },
  responses: {
    200: json(WebhookAckSchema, 'Accepted (processed, a duplicate, or ignored)'),
    400: problems[400],
    500: { description: 'Processing failed and nothing was applied; Stripe retries', content: problems[500].content },
    503: problems[503],
  },
});
