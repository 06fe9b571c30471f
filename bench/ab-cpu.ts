/**
 * `ts-node --transpile-only bench/ab-cpu.ts <checkoutA> <checkoutB> [rounds]`: server CPU per charge of
 * two builds (each checkout's dist/, built beforehand), side by side. Both servers run at once against
 * one seeded database and take turns, round by round in ABBA order, at reconcile-cpu.ts's fixed rate:
 * on a shared, noisy machine, drift then hits both alike, which back-to-back runs of reconcile-cpu.ts
 * did not ensure. BENCH_RATE=0 runs at saturation instead (the HTTP layer is then a larger share).
 * Prints each build's median and the median of the paired differences (B - A).
 */
import path from 'node:path';
import { makeKeyPair, signToken } from '../test/helpers/keys';
import { createBenchDatabase, seedWallets } from './lib/bench-db';
import * as s from './lib/scenarios';
import { startServer, type ServerHandle } from './lib/server-process';

const args = process.argv.slice(2);
const [dirA, dirB] = args.filter((a) => !/^\d+$/.test(a)).map((d) => path.resolve(d));
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 10);
const rate = Number(process.env.BENCH_RATE ?? 200) || undefined; // BENCH_RATE=0: as fast as the server answers
const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  if (!dirA || !dirB) throw new Error('usage: ab-cpu.ts <checkoutA> <checkoutB> [rounds]');
  const db = await createBenchDatabase(adminUrl, `billing_ab_${stamp.replace('-', '_')}`);
  const violations: string[] = [];
  const servers: ServerHandle[] = [];
  try {
    await seedWallets(db.pool, 2000, '1000000');
    const keys = makeKeyPair();
    for (const root of [dirA, dirB]) {
      servers.push(await startServer({ databaseUrl: db.url, publicKey: keys.publicKey, webhookSecret: 'whsec_unused', poolMax: 10, root }));
    }
    const ctx = (server: ServerHandle): s.BenchContext => ({
      server, pool: db.pool, runId: stamp, connections: 10, seconds, wallets: 2000,
      gatewayToken: signToken(keys, 'llm-gateway', { scope: 'usage:write', expiresIn: 7200 }),
      userTokens: [], webhookSecret: 'whsec_unused',
      violation: (scenario, message) => violations.push(`${scenario}: ${message}`),
    });
    const [a, b] = servers.map(ctx);
    await s.reconcile(a, 'a-warmup', { hot: false, seconds: 6, rate: rate || undefined });
    await s.reconcile(b, 'b-warmup', { hot: false, seconds: 6, rate: rate || undefined });
    const cpu = { a: [] as number[], b: [] as number[] };
    for (let i = 0; i < rounds; i++) {
      for (const which of i % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)) {
        await new Promise((r) => setTimeout(r, 500)); // the last round's unanswered requests commit before the next count
        const m = await s.reconcile(which === 'a' ? a : b, `${which}-r${i}`, { hot: false, rate: rate || undefined });
        cpu[which].push(m.serverCpuMsPerRequest);
      }
      console.log(`round ${i + 1}: A ${cpu.a[i].toFixed(3)}  B ${cpu.b[i].toFixed(3)} CPU ms/req`);
    }
    const diffs = cpu.a.map((x, i) => cpu.b[i] - x);
    console.log(`A ${dirA}: median ${median(cpu.a).toFixed(3)} ms/req`);
    console.log(`B ${dirB}: median ${median(cpu.b).toFixed(3)} ms/req`);
    console.log(`B - A: median ${median(diffs).toFixed(3)} ms/req (${diffs.filter((d) => d < 0).length}/${rounds} rounds B lower)`);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await db.pool.end().catch(() => undefined);
    await db.drop();
  }
  if (violations.length > 0) throw new Error(violations.join('\n'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
