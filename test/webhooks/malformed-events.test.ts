import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';
import { counterValue, storedCounts } from '../helpers/stripe-assertions';
import { balanceOf } from '../helpers/wallets';

let t: StripeTestApp;
let session: Record<string, unknown>;
beforeAll(async () => {
  t = await createStripeTestApp();
  const p = await t.purchase('malformed-buyer', 'starter');
  session = t.double.completeSession(p.stripeCheckoutSessionId).data.object;
});
afterAll(() => t.close());

const stored = () => storedCounts(t);

const envelope = (type: string, object: unknown, over: Record<string, unknown> = {}) => ({
  ...t.double.event(type, { id: 'placeholder', object: 'placeholder', created: 1 }),
  data: { object },
  ...over,
});
const charge = { id: 'ch_test_m', object: 'charge', amount: 500, amount_refunded: 500, payment_intent: 'pi_test_m' };

/** Signed with the real secret: each is Stripe's as far as the signature goes, and none is an event we can apply. */
const MALFORMED: [string, () => string, string][] = [
  ['a JSON array', () => JSON.stringify([envelope('checkout.session.completed', session)]), 'event'],
  ['null', () => 'null', 'event'],
  ['a number', () => '42', 'event'],
  ['not JSON at all', () => '{"id": "evt_1", ', 'body'],
  [
    'an event without data',
    () => JSON.stringify(envelope('checkout.session.completed', session, { data: undefined })),
    'data',
  ],
  [
    'an event whose data.object is an array',
    () => JSON.stringify(envelope('checkout.session.completed', [session])),
    'data.object',
  ],
  [
    'an event id with U+0000',
    () => JSON.stringify(envelope('checkout.session.completed', session, { id: 'evt_\u0000x' })),
    'id',
  ],
  [
    'an event id with a lone surrogate',
    () => JSON.stringify(envelope('invoice.created', { id: 'in_1' }, { id: 'evt_\ud800' })),
    'id',
  ],
  ['an event id that is a number', () => JSON.stringify(envelope('invoice.created', { id: 'in_1' }, { id: 12 })), 'id'],
  ['an event without a type', () => JSON.stringify(envelope('x', { id: 'in_1' }, { type: undefined })), 'type'],
  [
    'a session whose id is missing',
    () => JSON.stringify(envelope('checkout.session.completed', { ...session, id: undefined })),
    'data.object.id',
  ],
  [
    'a session whose currency has U+0000',
    () => JSON.stringify(envelope('checkout.session.completed', { ...session, currency: 'us\u0000d' })),
    'data.object.currency',
  ],
  [
    'a session whose amount_total is a string',
    () => JSON.stringify(envelope('checkout.session.completed', { ...session, amount_total: '500' })),
    'data.object.amount_total',
  ],
  [
    'a session whose metadata is an array',
    () => JSON.stringify(envelope('checkout.session.expired', { ...session, metadata: ['x'] })),
    'data.object.metadata',
  ],
  [
    'a refund without amount_refunded',
    () => JSON.stringify(envelope('charge.refunded', { ...charge, amount_refunded: undefined })),
    'data.object.amount_refunded',
  ],
  [
    'a refund of 1e400 cents',
    () =>
      JSON.stringify(envelope('charge.refunded', charge)).replace('"amount_refunded":500', '"amount_refunded":1e400'),
    'data.object.amount_refunded',
  ],
  [
    'a dispute whose status has a lone surrogate',
    () =>
      JSON.stringify(
        envelope('charge.dispute.closed', { id: 'du_1', amount: 500, status: '\udc00', payment_intent: 'pi_x' }),
      ),
    'data.object.status',
  ],
];

describe('a validly signed but malformed Stripe event', () => {
  it.each(MALFORMED)(
    '%s: 400 malformed_event naming the field, nothing stored, counted as rejected',
    async (_name, body, field) => {
      const before = await stored();
      const rejected = await counterValue(t.metrics.webhookEvents, { type: 'unknown', outcome: 'rejected' });
      const res = await t.deliver(undefined, { body: body() });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ code: 'malformed_event', errors: [{ field }] });
      expect(await stored()).toEqual(before);
      expect(await counterValue(t.metrics.webhookEvents, { type: 'unknown', outcome: 'rejected' })).toBe(rejected + 1);
    },
  );

  it('leaves the purchase creditable: the well-formed event delivered afterwards credits it once', async () => {
    const res = await t.deliver(t.double.completeSession(String(session.id)));
    expect([res.status, res.body.outcome]).toEqual([200, 'processed']);
    expect((await balanceOf(t, 'malformed-buyer')).balance).toBe('5000');
  });

  it('an unhandled event type is acknowledged whatever its object, its object id kept only when storable', async () => {
    const event = envelope('customer.updated', { id: 'cus_\u0000', nested: [[[[{}]]]] });
    const res = await t.deliver(event);
    expect([res.status, res.body.outcome]).toEqual([200, 'ignored']);
    const [row] = await t.database.sql<{ object_id: string | null }>(
      `SELECT object_id FROM stripe_events WHERE id = $1`,
      [event.id],
    );
    expect(row.object_id).toBeNull();
  });
});

describe('a validly signed event whose type names a property every object has', () => {
  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    '"%s" is a type we do not handle: 200 ignored, not 500',
    async (type) => {
      const res = await t.deliver(envelope(type, { id: 'obj_1' }));
      expect([res.status, res.body.outcome]).toEqual([200, 'ignored']);
    },
  );
});
