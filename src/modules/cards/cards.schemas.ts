import { z } from 'zod';
import { documentRoute, json, problems } from '../../platform/openapi/registry';

/** Nothing to send: an empty body or {}; anything else is refused before Stripe is called. */
export const CardSetupBody = z.object({}).strict().openapi('CardSetupRequest');

export const CardSetup = z
  .object({
    checkoutUrl: z.string().nullable().openapi({ description: 'Stripe Checkout in setup mode; send the user here' }),
    stripeCheckoutSessionId: z.string(),
  })
  .openapi('CardSetup');

documentRoute({
  method: 'post',
  path: '/v1/billing/payment-method',
  summary: "Save a card for auto top-up: Checkout in setup mode for the caller's Stripe Customer",
  description:
    'When the user completes it, Stripe sends checkout.session.completed and the card becomes the saved card ' +
    '(GET /v1/billing/settings shows its brand, last four digits and expiry). A new card replaces the old one.',
  tags: ['billing'],
  security: [{ bearer: [] }],
  request: { body: { required: false, content: { 'application/json': { schema: CardSetupBody } } } },
  responses: {
    201: json(CardSetup, 'The Checkout Session'),
    400: problems[400],
    401: problems[401],
    429: problems[429],
    502: {
      description: '`stripe_unavailable`: Stripe did not create the Customer or the Checkout Session; retry',
      content: problems[500].content,
    },
    503: problems[503],
  },
});
