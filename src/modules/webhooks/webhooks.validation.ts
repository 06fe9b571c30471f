import { z } from 'zod';
import { identifier, isIdentifier } from '../../platform/http/identifiers';
import type { ChargeObject, DisputeObject, PaymentIntentObject, SessionObject } from './webhooks.events';

/**
 * A signed event is Stripe's, but its body is still data: before any of it reaches a query, its
 * envelope and the fields the rules read are checked here. Every string that may be stored (ids,
 * the currency, a status quoted in a note) is an id-like string: no NUL, no lone surrogate.
 */
const Id = identifier();
const Ref = z
  .union([Id, z.looseObject({ id: Id })])
  .nullable()
  .optional();
const Cents = z.number().int().nonnegative();

const Envelope = z.looseObject({
  id: Id,
  type: identifier(),
  data: z.looseObject({ object: z.looseObject({}) }),
});

const Session = z.looseObject({
  id: Id,
  mode: Id.nullable().optional(),
  customer: Ref,
  setup_intent: Ref,
  payment_status: Id.optional(),
  amount_total: Cents.nullable().optional(),
  currency: Id.nullable().optional(),
  payment_intent: Ref,
  metadata: z.record(z.string(), z.string()).nullable().optional(),
});

const Charge = z.looseObject({
  id: Id,
  amount_refunded: Cents,
  payment_intent: Ref,
  refunds: z
    .looseObject({ data: z.array(z.looseObject({ id: Id })).optional() })
    .nullable()
    .optional(),
});

const PaymentIntent = z.looseObject({
  id: Id,
  status: Id,
  amount: Cents,
  amount_received: Cents.nullable().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  last_payment_error: z
    .looseObject({ code: Id.nullable().optional(), decline_code: Id.nullable().optional() })
    .nullable()
    .optional(),
});

const Dispute = z.looseObject({ id: Id, amount: Cents, status: Id, charge: Ref, payment_intent: Ref });

const OBJECTS: Record<string, z.ZodType> = {
  'checkout.session.completed': Session,
  'checkout.session.async_payment_succeeded': Session,
  'checkout.session.async_payment_failed': Session,
  'checkout.session.expired': Session,
  'charge.refunded': Charge,
  'charge.dispute.created': Dispute,
  'charge.dispute.closed': Dispute,
  'payment_intent.succeeded': PaymentIntent,
  'payment_intent.payment_failed': PaymentIntent,
};

export interface CheckedEvent {
  id: string;
  type: string;
  /** The object's id when it is a storable one; other event types may carry anything there. */
  objectId: string | null;
  object: SessionObject | ChargeObject | DisputeObject | PaymentIntentObject | Record<string, unknown>;
}

/** The event, or the first field that is missing or malformed ("data.object.amount_refunded"). */
export function checkEvent(event: unknown): CheckedEvent | { invalid: string } {
  const envelope = Envelope.safeParse(event);
  if (!envelope.success) return { invalid: fieldOf(envelope.error, '') };
  const { id, type, data } = envelope.data;
  const schema = Object.hasOwn(OBJECTS, type) ? OBJECTS[type] : undefined; // "constructor" is no event type
  if (schema) {
    const object = schema.safeParse(data.object);
    if (!object.success) return { invalid: fieldOf(object.error, 'data.object') };
  }
  const objectId = isIdentifier(data.object.id) ? data.object.id : null;
  return { id, type, objectId, object: data.object };
}

const fieldOf = (error: z.ZodError, prefix: string) =>
  [prefix, ...(error.issues[0]?.path ?? [])].filter((p) => p !== '').join('.') || 'event';
