/**
 * `ts-node --transpile-only bench/tools/reconcile-cpu.ts [rounds] [--profile]`: server CPU per request of
 * POST /v1/usage/reconcile alone, for A/B comparisons of the charge path. Unlike `npm run bench` it
 * runs one scenario, at a fixed rate (BENCH_RATE, default 200 req/s: well below saturation, so grouping
 * and queueing stay alike between builds), several rounds, and prints each round's CPU ms per request
 * and the median. Uses the build in dist/ (run `npm run build` first) and a fresh database.
 */
import path from 'node:path';
import { makeKeyPair, signToken } from '../../scripts/lib/jwt-keys';
import { createBenchDatabase, seedWallets } from '../lib/bench-db';
import * as s from '../lib/scenarios';
import { ROOT, startServer } from '../lib/server-process';

const args = process.argv.slice(2);
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 5);
const rate = Number(process.env.BENCH_RATE ?? 200);
const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');

async function main() {
  const db = await createBenchDatabase(adminUrl, `billing_cpu_${stamp.replace('-', '_')}`);
  const violations: string[] = [];
  try {
    await seedWallets(db.pool, 2000, '1000000');
    const keys = makeKeyPair();
    const server = await startServer({
      databaseUrl: db.url,
      publicKey: keys.publicKey,
      webhookSecret: 'whsec_unused',
      poolMax: 10,
      cpuProfileDir: args.includes('--profile') ? path.join(ROOT, 'bench', 'results', `profile-${stamp}`) : undefined,
    });
    const ctx: s.BenchContext = {
      server,
      pool: db.pool,
      runId: stamp,
      connections: 10,
      seconds,
      wallets: 2000,
      gatewayToken: signToken(keys, 'llm-gateway', { scope: 'usage:write', expiresIn: 7200 }),
      userTokens: [],
      webhookSecret: 'whsec_unused',
      violation: (scenario, message) => violations.push(`${scenario}: ${message}`),
    };
    try {
      await s.reconcile(ctx, 'warmup', { hot: false, seconds: 3, rate });
      const cpu: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const m = await s.reconcile(ctx, `r${i}`, { hot: false, rate });
        cpu.push(m.serverCpuMsPerRequest);
        console.log(
          `round ${i + 1}: ${m.rps.toFixed(0)} req/s, p99 ${m.p99.toFixed(1)} ms, ` +
            `server ${m.serverCpuMsPerRequest.toFixed(3)} CPU ms/req, peak RSS ${m.peakRssMb.toFixed(0)} MB`,
        );
      }
      const sorted = [...cpu].sort((a, b) => a - b);
      console.log(
        `median server CPU ms/req: ${sorted[Math.floor(sorted.length / 2)].toFixed(3)} (min ${sorted[0].toFixed(3)})`,
      );
    } finally {
      await server.stop();
    }
    if (violations.length > 0) throw new Error(violations.join('\n'));
  } finally {
    await db.pool.end().catch(() => undefined);
    await db.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
