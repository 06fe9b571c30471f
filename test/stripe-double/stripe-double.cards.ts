import type { FormValue } from './form-decode';
import { StripeDoubleBase, clone, now, stripeId, type StripeObject } from './stripe-double.objects';

/** What Stripe says when a card is declined: the `error` fields of the 402 and of `last_payment_error`. */
export interface Decline {
  code: string;
  decline_code: string;
  message: string;
  param?: string;
}

/**
 * The cards a customer can save, named like Stripe's test cards (pm_card_visa, pm_card_chargeDeclined, …)
 * and showing the same brand and last4. `decline` is how an off-session charge of the card fails;
 * `processing` leaves the PaymentIntent processing until the test settles it (Stripe has no such
 * card test number, so its last4 is the double's own).
 */
export const CARDS = {
  visa: { brand: 'visa', last4: '4242' },
  mastercard: { brand: 'mastercard', last4: '4444' },
  chargeDeclined: {
    brand: 'visa',
    last4: '0002',
    decline: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
  },
  expiredCard: {
    brand: 'visa',
    last4: '0069',
    decline: {
      code: 'expired_card',
      decline_code: 'expired_card',
      message: 'Your card has expired.',
      param: 'exp_month',
    },
  },
  authenticationRequired: {
    brand: 'visa',
    last4: '3184',
    decline: {
      code: 'authentication_required',
      decline_code: 'authentication_required',
      message: 'Your card was declined. This transaction requires authentication.',
    },
  },
  processing: { brand: 'visa', last4: '0000', processing: true },
} satisfies Record<string, { brand: string; last4: string; decline?: Decline; processing?: true }>;

export type CardKind = keyof typeof CARDS;

export const declineOf = (kind: CardKind): Decline | undefined => (CARDS[kind] as { decline?: Decline }).decline;

/** Customers, the cards they saved (PaymentMethods) and the SetupIntents that saved them. */
export class StripeDoubleCards extends StripeDoubleBase {
  /** How each saved card behaves when charged; kept beside the PaymentMethod, never sent to the SDK. */
  private readonly behaviour = new Map<string, CardKind>();

  createCustomer(p: Record<string, FormValue>): StripeObject {
    const customer: StripeObject = {
      id: stripeId('cus'),
      object: 'customer',
      created: now(),
      address: null,
      balance: 0,
      currency: null,
      default_source: null,
      delinquent: false,
      description: p.description ?? null,
      email: p.email ?? null,
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false,
      metadata: p.metadata ?? {},
      name: p.name ?? null,
      phone: null,
      preferred_locales: [],
      shipping: null,
      tax_exempt: 'none',
    };
    this.customers.push(customer);
    return customer;
  }

  customer(id: string): StripeObject {
    const c = this.customers.find((x) => x.id === id);
    if (!c) throw new Error(`stripe double: no customer ${id}`);
    return c;
  }

  /** A card PaymentMethod, attached to `customer` when given (as Checkout does when it saves the card). */
  createPaymentMethod(kind: CardKind = 'visa', customer: string | null = null): StripeObject {
    const card = CARDS[kind];
    if (!card) throw new Error(`stripe double: no card kind ${kind}`);
    const pm: StripeObject = {
      id: stripeId('pm'),
      object: 'payment_method',
      created: now(),
      type: 'card',
      customer,
      allow_redisplay: 'unspecified',
      billing_details: {
        address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
        email: null,
        name: null,
        phone: null,
      },
      card: {
        brand: card.brand,
        display_brand: card.brand,
        last4: card.last4,
        exp_month: 12,
        exp_year: new Date().getUTCFullYear() + 3,
        funding: 'credit',
        country: 'US',
        fingerprint: `fp${card.brand}${card.last4}`,
        networks: { available: [card.brand], preferred: null },
        three_d_secure_usage: { supported: true },
        wallet: null,
      },
      livemode: false,
      metadata: {},
    };
    this.paymentMethods.push(pm);
    this.behaviour.set(pm.id, kind);
    return pm;
  }

  paymentMethod(id: string): StripeObject {
    const pm = this.paymentMethods.find((x) => x.id === id);
    if (!pm) throw new Error(`stripe double: no payment method ${id}`);
    return pm;
  }

  /** From now on the saved card behaves as `kind` (it expires, its bank starts declining, asks for 3DS…). */
  setCardBehaviour(paymentMethodId: string, kind: CardKind): void {
    this.paymentMethod(paymentMethodId);
    if (!CARDS[kind]) throw new Error(`stripe double: no card kind ${kind}`);
    this.behaviour.set(paymentMethodId, kind);
  }

  cardBehaviour(paymentMethodId: string): CardKind {
    return this.behaviour.get(paymentMethodId) ?? 'visa';
  }

  paymentMethodsFor(customerId: string): StripeObject[] {
    return this.paymentMethods.filter((pm) => pm.customer === customerId);
  }

  /** The succeeded SetupIntent a setup-mode Checkout leaves behind once the customer saved a card. */
  createSetupIntent(customer: string | null, paymentMethod: string, metadata: FormValue = {}): StripeObject {
    const id = stripeId('seti');
    const si: StripeObject = {
      id,
      object: 'setup_intent',
      created: now(),
      application: null,
      automatic_payment_methods: null,
      cancellation_reason: null,
      client_secret: `${id}_secret_${stripeId('x').slice(7)}`,
      customer,
      description: null,
      last_setup_error: null,
      latest_attempt: null,
      livemode: false,
      mandate: null,
      metadata: clone(metadata),
      next_action: null,
      payment_method: paymentMethod,
      payment_method_types: ['card'],
      single_use_mandate: null,
      status: 'succeeded',
      usage: 'off_session',
    };
    this.setupIntents.push(si);
    return si;
  }
}
