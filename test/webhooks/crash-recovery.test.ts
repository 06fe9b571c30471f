import { balanceOf } from '../helpers/wallets';
import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';
import { counterValue, eventRow, ledgerOf, purchaseRow } from '../helpers/stripe-assertions';

let t: StripeTestApp;
beforeAll(async () => {
  t = await createStripeTestApp();
  // A crash between receiving and committing: the first transaction that records a purchase
  // credit fails at commit time (a deferred trigger, after every effect ran). A sequence is
  // not transactional, so "only once" survives the rollback.
  await t.database.sql(`
    CREATE SEQUENCE crash_once;
    CREATE FUNCTION crash_once() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.type = 'purchase' AND nextval('crash_once') = 1 THEN
        RAISE EXCEPTION 'simulated crash before commit';
      END IF;
      RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER crash_once AFTER INSERT ON ledger_transactions
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION crash_once();`);
});
afterAll(() => t.close());

describe('a failure while processing', () => {
  it("answers 500 with nothing applied, and Stripe's retry of the same event credits once", async () => {
    const { purchaseId, stripeCheckoutSessionId } = await t.purchase('crashy', 'basic');
    const event = t.double.completeSession(stripeCheckoutSessionId);
    const failedBefore = await counterValue(t.metrics.webhookEvents, { outcome: 'failed' });

    const first = await t.deliver(event);
    expect(first.status).toBe(500);
    expect(first.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(first.body)).not.toMatch(/simulated|trigger|SELECT/i);
    expect((await balanceOf(t, 'crashy')).balance).toBe('0');
    expect(await ledgerOf(t, 'crashy')).toEqual([]);
    expect(await purchaseRow(t, purchaseId)).toMatchObject({ status: 'pending', payment_intent_id: null });
    expect(await eventRow(t, event.id)).toMatchObject({
      outcome: 'failed',
      error: expect.stringContaining('simulated crash'),
    });
    expect((await counterValue(t.metrics.webhookEvents, { outcome: 'failed' })) - failedBefore).toBe(1);

    const retry = await t.deliver(event);
    expect(retry.status).toBe(200);
    expect(retry.body.outcome).toBe('processed');
    expect((await balanceOf(t, 'crashy')).balance).toBe('10500');
    expect((await ledgerOf(t, 'crashy')).map((r) => r.type)).toEqual(['purchase', 'bonus']);
    expect(await purchaseRow(t, purchaseId)).toMatchObject({ status: 'paid' });
    expect(await eventRow(t, event.id)).toMatchObject({ outcome: 'processed', error: null, attempts: 2 });

    const again = await t.deliver(event);
    expect(again.body.outcome).toBe('duplicate');
    expect((await balanceOf(t, 'crashy')).balance).toBe('10500');
  });
});
