import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';

let t: StripeTestApp;
beforeAll(async () => {
  t = await createStripeTestApp();
});
afterAll(() => t.close());

const eventsOf = (userId: string) =>
  t.database.sql<{ type: string; data: Record<string, string> }>(
    `SELECT type, data FROM events WHERE user_id = $1 ORDER BY seq`,
    [userId],
  );

describe('events for purchases and take-backs', () => {
  it('a purchase credited by eight concurrent deliveries of its webhook emits one purchase.completed', async () => {
    const { purchaseId, stripeCheckoutSessionId } = await t.purchase('buyer', 'basic'); // $10: 10,000 + 500 bonus
    const event = t.double.completeSession(stripeCheckoutSessionId);
    const results = await Promise.all(Array.from({ length: 8 }, () => t.deliver(event)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(await eventsOf('buyer')).toEqual([
      {
        type: 'purchase.completed',
        data: { purchaseId, packageId: 'basic', credits: '10000', bonusCredits: '500', balance: '10500' },
      },
    ]);
  });

  it('a refund emits credits.reversed with what it took back and the balance after, once if redelivered', async () => {
    const { purchaseId, stripeCheckoutSessionId } = await t.purchase('refundee', 'basic');
    await t.deliver(t.double.completeSession(stripeCheckoutSessionId)).expect(200);
    const refund = t.double.refund(stripeCheckoutSessionId, 250);
    await t.deliver(refund).expect(200);
    await t.deliver(refund).expect(200);
    const reversed = (await eventsOf('refundee')).filter((e) => e.type === 'credits.reversed');
    expect(reversed).toEqual([
      { type: 'credits.reversed', data: { reason: 'refund', purchaseId, credits: '2625', balance: '7875' } },
    ]);
  });
});
