import express, { type IRouter } from 'express';
import './webhooks.schemas';
import type { WebhooksService } from './webhooks.service';

export const STRIPE_WEBHOOK_PATH = '/v1/webhooks/stripe';

/**
 * Mounted before the JSON body parser: the signature covers the exact bytes Stripe sent, so the
 * body is kept raw, whatever its content type.
 */
export function stripeWebhookRoutes(router: IRouter, webhooks: WebhooksService): void {
  router.post(STRIPE_WEBHOOK_PATH, express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    res.json(
      await webhooks.receive({
        raw,
        signature: req.get('stripe-signature'),
        correlationId: req.correlationId,
        log: req.log,
      }),
    );
  });
}
