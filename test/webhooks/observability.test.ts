import { Writable } from 'node:stream';
import { createLogger } from '../../src/platform/logger';
import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    done();
  },
});

let t: StripeTestApp;
beforeAll(async () => {
  t = await createStripeTestApp({ deps: { logger: createLogger('info', sink) } });
});
afterAll(() => t.close());

const webhookLine = (correlationId: string) =>
  lines.find((l) => l.correlationId === correlationId && String(l.msg).startsWith('stripe webhook'));

describe('webhook logs and metrics', () => {
  it('writes one line per outcome with the event id and the correlation id', async () => {
    const { stripeCheckoutSessionId } = await t.purchase('logged', 'starter');
    const event = t.double.completeSession(stripeCheckoutSessionId);
    await t.deliver(event, { correlationId: 'log-processed' }).expect(200);
    await t.deliver(event, { correlationId: 'log-duplicate' }).expect(200);
    const other = t.double.event('invoice.created', { id: 'in_test_1', object: 'invoice', created: 1 });
    await t.deliver(other, { correlationId: 'log-ignored' }).expect(200);
    await t.deliver(event, { correlationId: 'log-rejected', secret: 'whsec_wrong' }).expect(400);

    expect(webhookLine('log-processed')).toMatchObject({
      eventId: event.id,
      eventType: 'checkout.session.completed',
      outcome: 'processed',
    });
    expect(webhookLine('log-duplicate')).toMatchObject({ eventId: event.id, outcome: 'duplicate' });
    expect(webhookLine('log-ignored')).toMatchObject({ eventId: other.id, outcome: 'ignored' });
    expect(webhookLine('log-rejected')).toMatchObject({ outcome: 'rejected', level: 'warn' });
    expect(JSON.stringify(lines)).not.toContain(t.webhookSecret);
    expect(JSON.stringify(lines)).not.toContain(t.double.secretKey);

    const metrics = await t.metrics.registry.metrics();
    expect(metrics).toContain('billing_webhook_events_total{type="checkout.session.completed",outcome="processed"} 1');
    expect(metrics).toContain('billing_webhook_events_total{type="checkout.session.completed",outcome="duplicate"} 1');
    expect(metrics).toContain('billing_webhook_events_total{type="other",outcome="ignored"} 1');
    expect(metrics).toContain('billing_webhook_events_total{type="unknown",outcome="rejected"} 1');
    expect(metrics).toContain('billing_auth_failures_total{reason="webhook_signature"} 1');
  });
});
