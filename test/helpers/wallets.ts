import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { TestApp } from './test-app';

/** Funds a wallet the way support would: an idempotent admin adjustment. */
export async function grant(t: TestApp, userId: string, amount: string): Promise<void> {
  const res = await request(t.app)
    .post('/v1/admin/credits/adjustments')
    .set('Authorization', `Bearer ${t.admin}`)
    .set('Idempotency-Key', randomUUID())
    .send({ userId, amount, reason: 'test funding' });
  if (res.status !== 201) throw new Error(`grant failed: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function balanceOf(t: TestApp, userId: string) {
  const res = await request(t.app).get('/v1/balance').query({ userId }).set('Authorization', `Bearer ${t.admin}`);
  return res.body as { balance: string; held: string; available: string };
}

export function reconcile(t: TestApp, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const req = request(t.app).post('/v1/usage/reconcile').set('Authorization', `Bearer ${t.gateway}`);
  for (const [k, v] of Object.entries(headers)) req.set(k, v);
  return req.send(body);
}
