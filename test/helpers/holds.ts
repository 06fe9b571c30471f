import request from 'supertest';
import type { TestApp } from './test-app';

/** gpt-4o: 0.02 credits per input token, 0.06 per output token (contract card, markup 4). */
export const HUNDRED_CREDITS = { model: 'gpt-4o', maxInputTokens: 2000, maxOutputTokens: 1000 };
/** Settles at 40 credits on gpt-4o: 500 × 0.02 + 500 × 0.06. */
export const FORTY_CREDITS = { model: 'gpt-4o', inputTokens: 500, outputTokens: 500 };

export function placeHold(t: TestApp, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const req = request(t.app).post('/v1/usage/holds').set('Authorization', `Bearer ${t.gateway}`);
  for (const [k, v] of Object.entries(headers)) req.set(k, v);
  return req.send(body);
}

export function releaseHold(t: TestApp, holdId: string) {
  return request(t.app)
    .post(`/v1/usage/holds/${encodeURIComponent(holdId)}/release`)
    .set('Authorization', `Bearer ${t.gateway}`)
    .send();
}

export async function holdRow(t: TestApp, holdId: string) {
  const rows = await t.database.sql<{ status: string; ended_at: Date | null; usage_id: string | null }>(
    'SELECT status, ended_at, usage_id FROM holds WHERE id = $1',
    [holdId],
  );
  return rows[0];
}

/** Simulates the passing of time: the hold's expiry moves into the past. Returns the new expiresAt. */
export async function backdateExpiry(t: TestApp, holdId: string): Promise<string> {
  const rows = await t.database.sql<{ expires_at: Date }>(
    `UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = $1 RETURNING expires_at`,
    [holdId],
  );
  return rows[0].expires_at.toISOString();
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A counter's or gauge's current value in this app's registry (0 when the series is absent). */
export async function metricValue(t: TestApp, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = t.metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return match?.value ?? 0;
}
