import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { createApp } from '../src/app';
import { buildServices } from '../src/composition';
import { createMetrics } from '../src/platform/metrics';
import { createTokenVerifier } from '../src/platform/auth/token-verifier';
import { parseConfig } from '../src/platform/config';
import { createDatabase } from '../src/platform/db/database';
import { migrate } from '../src/platform/db/migrator';
import { createLogger } from '../src/platform/logger';

/**
 * The cost of hold + settle against a plain charge, over loopback HTTP, sequential calls.
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
 *     npx ts-node --transpile-only scripts/measure-holds.ts [calls]
 * Makes a scratch database on that server and drops it afterwards. Numbers, not assertions.
 */
const CALLS = Number(process.argv[2] ?? 2000);
const ROUNDS = 2; // plain, hold+settle, plain, hold+settle: drift on a shared machine hits both

async function main() {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL (an account that may CREATE DATABASE) is required');
  const name = `billing_measure_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = createDatabase(url.toString(), { min: 2, max: 10 });
  try {
    await migrate(url.toString());
    const keys = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const sign = (sub: string, scope: string) =>
      jwt.sign({ sub, scope }, keys.privateKey, { algorithm: 'RS256', expiresIn: 3600 });
    const config = parseConfig({
      NODE_ENV: 'test',
      DATABASE_URL: url.toString(),
      LOG_LEVEL: 'silent',
      SERVICE_RATE_LIMIT_PER_MINUTE: '100000000',
    });
    const [logger, metrics] = [createLogger('silent'), createMetrics()];
    const services = buildServices({ config, db, logger, metrics });
    const app = createApp({
      config,
      logger,
      metrics,
      services,
      verifier: createTokenVerifier({ publicKey: keys.publicKey }),
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const gateway = sign('llm-gateway', 'usage:write');
    const post = async (path: string, token: string, body: unknown, extra: Record<string, string> = {}) => {
      const res = await fetch(base + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...extra },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`${path}: ${res.status}`);
    };
    await post(
      '/v1/admin/credits/adjustments',
      sign('ops', 'billing:admin'),
      { userId: 'bench-user', amount: '100000000', reason: 'measure' },
      { 'idempotency-key': randomUUID() },
    );

    const call = { userId: 'bench-user', model: 'gpt-4o', inputTokens: 1000, outputTokens: 500 };
    const plain = async (i: string) => post('/v1/usage/reconcile', gateway, { ...call, requestId: `plain-${i}` });
    const parts = { hold: [] as number[], settle: [] as number[] };
    const holdSettle = async (i: string) => {
      const start = process.hrtime.bigint();
      await post('/v1/usage/holds', gateway, {
        userId: 'bench-user',
        requestId: `held-${i}`,
        model: 'gpt-4o',
        maxInputTokens: 4000,
        maxOutputTokens: 2000,
      });
      const held = process.hrtime.bigint();
      await post('/v1/usage/reconcile', gateway, { ...call, requestId: `held-${i}` });
      parts.hold.push(Number(held - start) / 1e6);
      parts.settle.push(Number(process.hrtime.bigint() - held) / 1e6);
    };
    const loop = async (label: string, fn: (i: string) => Promise<void>, n: number) => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const start = process.hrtime.bigint();
        await fn(`${label}-${i}`);
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      return times;
    };
    await loop('warm-plain', plain, 200);
    await loop('warm-held', holdSettle, 200);
    parts.hold.length = parts.settle.length = 0;

    const results = { plain: [] as number[], holdSettle: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      results.plain.push(...(await loop(`p${r}`, plain, CALLS / ROUNDS)));
      results.holdSettle.push(...(await loop(`h${r}`, holdSettle, CALLS / ROUNDS)));
    }
    const stats = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      const mean = s.reduce((a, b) => a + b, 0) / s.length;
      return {
        mean: +mean.toFixed(3),
        p50: +s[Math.floor(s.length * 0.5)].toFixed(3),
        p99: +s[Math.floor(s.length * 0.99)].toFixed(3),
      };
    };
    const p = stats(results.plain);
    const h = stats(results.holdSettle);
    process.stdout.write(
      JSON.stringify(
        {
          calls: CALLS,
          plainChargeMs: p,
          holdPlusSettleMs: h,
          holdMs: stats(parts.hold),
          settleMs: stats(parts.settle),
          ratioMean: +(h.mean / p.mean).toFixed(2),
          ratioP50: +(h.p50 / p.p50).toFixed(2),
        },
        null,
        2,
      ) + '\n',
    );
    server.close();
  } finally {
    await db.close();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
