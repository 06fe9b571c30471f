import { spawn } from 'node:child_process';
import path from 'node:path';
import { ensureBuilt, ROOT } from '../helpers/build';
import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';

const CLI = path.join(ROOT, 'dist/scripts/report-revenue.js');

/** Runs the compiled CLI (what `npm run report:revenue` runs) against a test database and the Stripe double. */
function run(t: StripeTestApp, args: string[] = []): Promise<{ code: number | null; out: string; err: string }> {
  const env = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: t.database.url,
    STRIPE_SECRET_KEY: t.double.secretKey,
    STRIPE_API_BASE_URL: t.double.url,
  };
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })));
}

let t: StripeTestApp;
beforeAll(async () => {
  ensureBuilt();
  t = await createStripeTestApp();
  const p = await t.purchase('cli-1', 'basic');
  await t.deliver(t.double.completeSession(p.stripeCheckoutSessionId)).expect(200);
}, 240_000);
afterAll(() => t.close());

describe('npm run report:revenue', () => {
  it('prints the totals and exits 0 when Stripe and the ledger agree', async () => {
    const { code, out } = await run(t);
    expect(out).toMatch(/Gross \(USD\)\s+10\.00\s+10\.00/);
    expect(out).toContain('OK: no discrepancies');
    expect(code).toBe(0);
  });

  it('exits 1 and lists the discrepancy with both ids when a paid session was never credited', async () => {
    const lost = await t.purchase('cli-2', 'starter');
    t.double.completeSession(lost.stripeCheckoutSessionId);
    const { code, out } = await run(t, ['--from', new Date(Date.now() - 3600_000).toISOString()]);
    expect(out).toContain('DISCREPANCIES: 1');
    expect(out).toMatch(
      new RegExp(`missing_in_ledger\\s+checkout_session\\s+${lost.stripeCheckoutSessionId}\\s+${lost.purchaseId}`),
    );
    expect(code).toBe(1);
  });

  it('a period before the purchases has nothing to disagree about: exit 0', async () => {
    const { code, out } = await run(t, ['--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T00:00:00Z']);
    expect(out).toMatch(/Gross \(USD\)\s+0\.00\s+0\.00/);
    expect(code).toBe(0);
  });

  it('exits 2 with a one-line reason when it cannot run', async () => {
    const { code, err } = await run(t, ['--from', 'yesterday']);
    expect(err).toMatch(/^report:revenue failed: Invalid query: from/);
    expect(code).toBe(2);
  });
});
