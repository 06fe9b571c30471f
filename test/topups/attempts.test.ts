import request from 'supertest';
import { ledgerViolations, NO_VIOLATIONS } from '../helpers/ledger-invariants';
import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';
import {
  charge50,
  deliverEmitted,
  enrolled as enroll,
  eventsOf,
  putAutoTopUp,
  runWorker,
  stripeOf,
  topupsOf,
} from '../helpers/topups';
import { balanceOf, grant } from '../helpers/wallets';
import { TopupsRepository } from '../../src/modules/topups/topups.repository';
import { TopupsGateway } from '../../src/modules/topups/topups.gateway';

let t: StripeTestApp;
beforeAll(async () => {
  t = await createStripeTestApp({ env: { AUTO_TOPUP_MAX_FAILURES: '3' } });
});
afterAll(() => t.close());
// The ledger's invariants, and the trial balance finance reads, hold after every scenario.
afterEach(async () => {
  expect(await ledgerViolations(t.database)).toEqual(NO_VIOLATIONS);
  const report = await request(t.app).get('/v1/admin/reports/credits').set('Authorization', `Bearer ${t.admin}`);
  expect([report.status, report.body.ok]).toEqual([200, true]);
});

const enrolled = (userId: string, card?: Parameters<typeof enroll>[2], limit?: string) =>
  enroll(t, userId, card, limit);

const settingsOf = async (userId: string) =>
  (
    await request(t.app)
      .get('/v1/billing/settings')
      .set('Authorization', `Bearer ${t.token(userId)}`)
      .expect(200)
  ).body;
const paymentIntentsOf = (userId: string) =>
  t.double
    .requestsTo('POST', '/v1/payment_intents')
    .filter((r) => (r.body.metadata as { userId?: string }).userId === userId);

describe('auto top-up attempts', () => {
  it('a charge below the threshold makes one attempt, credited once with its package', async () => {
    await enrolled('alice');
    await charge50(t, 'alice', 'r1').expect(201); // 470 left: below 500
    await charge50(t, 'alice', 'r2').expect(201); // still below, an attempt is in flight: no second one
    expect((await topupsOf(t, 'alice')).map((r) => r.status)).toEqual(['pending']);
    await runWorker(t);
    const [topup] = await topupsOf(t, 'alice');
    expect(topup).toMatchObject({ status: 'succeeded', stripe_calls: 1 });
    expect((await balanceOf(t, 'alice')).balance).toBe('5420');
    const [sent] = paymentIntentsOf('alice');
    expect(sent.idempotencyKey).toBe(`topup:${topup.id}`);
    expect(sent.body).toMatchObject({ amount: '500', currency: 'usd', confirm: 'true', off_session: 'true' });
    expect(await eventsOf(t, 'alice', 'topup.')).toEqual([
      {
        type: 'topup.succeeded',
        data: { topupId: topup.id, packageId: 'starter', credits: '5000', balance: '5420' },
      },
    ]);
    const list = await request(t.app)
      .get('/v1/billing/topups')
      .set('Authorization', `Bearer ${t.token('alice')}`)
      .expect(200);
    expect(list.body.data).toEqual([
      expect.objectContaining({ topupId: topup.id, status: 'succeeded', priceUsd: '5.00', credits: '5000' }),
    ]);
    expect((await settingsOf('alice')).autoTopUp.spentThisMonthUsd).toBe('5.00');
    // Stripe's own event for the same payment, later: nothing more is credited.
    await deliverEmitted(t, 'payment_intent.succeeded');
    expect((await balanceOf(t, 'alice')).balance).toBe('5420');
  });

  it('payment_intent.succeeded 8 times at once, before the worker records its answer: credited once', async () => {
    const { customerId } = await enrolled('bob');
    await charge50(t, 'bob', 'r1').expect(201);
    // The worker's call reached Stripe, but its answer is not recorded yet: Stripe's event comes first.
    const [row] = await new TopupsRepository(t.database.db).list('bob', 1);
    await new TopupsGateway(stripeOf(t)).charge(row);
    const [event] = t.double.takeEvents('payment_intent.succeeded');
    const deliveries = await Promise.all(Array.from({ length: 8 }, () => t.deliver(event)));
    expect(deliveries.map((d) => d.status)).toEqual(Array(8).fill(200));
    expect((await balanceOf(t, 'bob')).balance).toBe('5470');
    await runWorker(t); // the same idempotency key finds the same PaymentIntent: nothing more
    expect((await balanceOf(t, 'bob')).balance).toBe('5470');
    expect(t.double.paymentIntentsFor(customerId)).toHaveLength(1);
    expect((await topupsOf(t, 'bob')).map((r) => r.status)).toEqual(['succeeded']);
    expect((await eventsOf(t, 'bob', 'topup.')).map((e) => e.type)).toEqual(['topup.succeeded']);
  });

  it('a declined card fails the attempt each time, and the third failure in a row pauses auto top-up', async () => {
    await enrolled('carol', 'chargeDeclined');
    for (const n of [1, 2, 3]) {
      await charge50(t, 'carol', `r${n}`).expect(201);
      await runWorker(t);
    }
    expect((await topupsOf(t, 'carol')).map((r) => [r.status, r.failure_code])).toEqual([
      ['failed', 'card_declined'],
      ['failed', 'card_declined'],
      ['failed', 'card_declined'],
    ]);
    const events = await eventsOf(t, 'carol', '%top');
    expect(events.map((e) => [e.type, e.data.consecutiveFailures ?? e.data.reason])).toEqual([
      ['topup.failed', 1],
      ['topup.failed', 2],
      ['topup.failed', 3],
      ['autotopup.paused', 'too_many_failures'],
    ]);
    expect((await settingsOf('carol')).autoTopUp).toMatchObject({
      status: 'paused',
      pausedReason: 'too_many_failures',
    });
    await charge50(t, 'carol', 'r4').expect(201);
    expect(await topupsOf(t, 'carol')).toHaveLength(3);
    expect((await balanceOf(t, 'carol')).balance).toBe('320');
  });

  it('a card needing SCA asks the user with a recovery link and pauses until enabled again', async () => {
    const { paymentMethodId } = await enrolled('dave', 'authenticationRequired');
    await charge50(t, 'dave', 'r1').expect(201);
    await runWorker(t);
    const [topup] = await topupsOf(t, 'dave');
    expect(topup).toMatchObject({ status: 'requires_action', failure_code: 'authentication_required' });
    expect(topup.recovery_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/c\/pay\/cs_/);
    expect(await eventsOf(t, 'dave', '%top')).toEqual([
      { type: 'topup.requires_action', data: { topupId: topup.id, recoveryUrl: topup.recovery_url } },
      { type: 'autotopup.paused', data: { reason: 'authentication_required' } },
    ]);
    // Stripe's payment_failed for it changes nothing; later charges start nothing while paused.
    await deliverEmitted(t, 'payment_intent.payment_failed');
    await charge50(t, 'dave', 'r2').expect(201);
    await runWorker(t);
    expect(paymentIntentsOf('dave')).toHaveLength(1);
    expect((await settingsOf('dave')).autoTopUp).toMatchObject({
      status: 'paused',
      pausedReason: 'authentication_required',
    });
    // The user authenticates the card and turns auto top-up on again: still below, so it tries at once.
    t.double.setCardBehaviour(paymentMethodId, 'visa');
    await putAutoTopUp(t, 'dave', {}).expect(200);
    await runWorker(t);
    expect((await topupsOf(t, 'dave')).map((r) => r.status)).toEqual(['failed', 'succeeded']);
  });

  it('a processing payment stays pending until Stripe settles it, then is credited once', async () => {
    const { customerId } = await enrolled('erin', 'processing');
    await charge50(t, 'erin', 'r1').expect(201);
    await runWorker(t);
    const [topup] = await topupsOf(t, 'erin');
    expect(topup.status).toBe('processing');
    await charge50(t, 'erin', 'r2').expect(201);
    expect(await topupsOf(t, 'erin')).toHaveLength(1);
    expect((await balanceOf(t, 'erin')).balance).toBe('420');
    const settled = t.double.settlePaymentIntent(topup.payment_intent_id!, 'succeeded');
    await t.deliver(settled).expect(200);
    await t.deliver(settled).expect(200);
    expect((await balanceOf(t, 'erin')).balance).toBe('5420');
    expect(t.double.paymentIntentsFor(customerId)).toHaveLength(1);
  });

  it('the monthly limit stops attempts that would exceed it, with topup.limit_reached once a month', async () => {
    await enrolled('frank', 'visa', '10'); // two starter top-ups a month
    for (const n of [1, 2, 3, 4]) {
      // Each round takes the wallet below 500 again (an admin debit is a debit too).
      const { available } = await balanceOf(t, 'frank');
      if (Number(available) >= 500) await grant(t, 'frank', String(470 - Number(available)));
      else await charge50(t, 'frank', `r${n}`).expect(201);
      await runWorker(t);
    }
    expect((await topupsOf(t, 'frank')).map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    const limits = await eventsOf(t, 'frank', 'topup.limit');
    expect(limits).toEqual([
      { type: 'topup.limit_reached', data: { monthlyLimitUsd: '10.00', spentThisMonthUsd: '10.00' } },
    ]);
    expect((await settingsOf('frank')).autoTopUp.spentThisMonthUsd).toBe('10.00');
  });

  it('when Stripe fails, the attempt is retried with the same key: one PaymentIntent, one credit', async () => {
    const { customerId } = await enrolled('gina');
    await charge50(t, 'gina', 'r1').expect(201);
    t.double.failNext(2); // the call and the SDK's one retry
    await runWorker(t);
    const [waiting] = await topupsOf(t, 'gina');
    expect(waiting).toMatchObject({ status: 'pending', stripe_calls: 1 });
    await t.database.sql(`UPDATE topups SET next_attempt_at = now() WHERE id = $1`, [waiting.id]);
    await runWorker(t);
    expect((await topupsOf(t, 'gina')).map((r) => r.status)).toEqual(['succeeded']);
    const keys = new Set(paymentIntentsOf('gina').map((r) => r.idempotencyKey));
    expect(keys).toEqual(new Set([`topup:${waiting.id}`]));
    expect(t.double.paymentIntentsFor(customerId)).toHaveLength(1);
    expect((await balanceOf(t, 'gina')).balance).toBe('5470');
  });

  it("a refund of a top-up takes its credits back like a purchase's", async () => {
    await enrolled('hank');
    await charge50(t, 'hank', 'r1').expect(201);
    await runWorker(t);
    const [topup] = await topupsOf(t, 'hank');
    await t.deliver(t.double.refund(topup.payment_intent_id!, 250)).expect(200);
    expect((await balanceOf(t, 'hank')).balance).toBe('2970');
    expect((await eventsOf(t, 'hank', 'credits.')).map((e) => e.data)).toEqual([
      expect.objectContaining({ reason: 'refund', credits: '2500', balance: '2970' }),
    ]);
  });

  it('a hold that takes available below the threshold starts an attempt, as a charge does', async () => {
    await enrolled('ivan');
    await request(t.app)
      .post('/v1/usage/holds')
      .set('Authorization', `Bearer ${t.gateway}`)
      .send({ userId: 'ivan', requestId: 'stream-1', model: 'gpt-4o', maxInputTokens: 1000, maxOutputTokens: 500 })
      .expect(201);
    expect((await topupsOf(t, 'ivan')).map((r) => r.status)).toEqual(['pending']);
    await runWorker(t);
    expect((await balanceOf(t, 'ivan')).available).toBe('5470');
  });
});
