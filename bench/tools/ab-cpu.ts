/**
 * `ts-node --transpile-only bench/tools/ab-cpu.ts <checkoutA> <checkoutB> [rounds]`: server CPU per charge of
 * two builds (each checkout's dist/, built beforehand), side by side. Both servers run at once against
 * one seeded database and take turns, round by round in ABBA order, at reconcile-cpu.ts's fixed rate:
 * on a shared, noisy machine, drift then hits both alike, which back-to-back runs of reconcile-cpu.ts
 * did not ensure. BENCH_RATE=0 runs at saturation instead (the HTTP layer is then a larger share).
 * Prints each build's median and the median of the paired differences (B - A).
 * BENCH_SQL_A / BENCH_SQL_B: a SQL file run on that build's database after migrating, e.g. an earlier
 * version of a function (CREATE OR REPLACE) to compare database code; each build then gets a database
 * of its own, seeded alike. BENCH_ENV_A / BENCH_ENV_B: extra server environment, "K=V K2=V2"
 * (e.g. REDIS_URL=redis://127.0.0.1:6379 to put the limiters on Redis, as in production).
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeKeyPair, signToken } from '../../scripts/lib/jwt-keys';
import { createBenchDatabase, seedWallets } from '../lib/bench-db';
import * as s from '../lib/scenarios';
import { startServer, type ServerHandle } from '../lib/server-process';

const args = process.argv.slice(2);
const [dirA, dirB] = args.filter((a) => !/^\d+$/.test(a)).map((d) => path.resolve(d));
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 10);
const rate = Number(process.env.BENCH_RATE ?? 200) || undefined; // BENCH_RATE=0: as fast as the server answers
const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const HOT = process.env.BENCH_HOT === '1'; // every charge on one wallet instead of 2,000
// V8 flags per build, e.g. BENCH_NODE_ARGS_B=--max-semi-space-size=16 with the same checkout twice
const flags = [process.env.BENCH_NODE_ARGS_A, process.env.BENCH_NODE_ARGS_B].map((f) =>
  (f ?? '').split(' ').filter(Boolean),
);
const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sqlFiles = [process.env.BENCH_SQL_A, process.env.BENCH_SQL_B];
const envs = [process.env.BENCH_ENV_A, process.env.BENCH_ENV_B].map((e) =>
  Object.fromEntries(
    (e ?? '')
      .split(' ')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  ),
);

async function main() {
  if (!dirA || !dirB) throw new Error('usage: ab-cpu.ts <checkoutA> <checkoutB> [rounds]');
  const name = `billing_ab_${stamp.replace('-', '_')}`;
  const own = sqlFiles.some(Boolean);
  const dbs = own
    ? [await createBenchDatabase(adminUrl, `${name}_a`), await createBenchDatabase(adminUrl, `${name}_b`)]
    : [await createBenchDatabase(adminUrl, name)];
  const dbOf = (i: number) => dbs[own ? i : 0];
  const violations: string[] = [];
  const servers: ServerHandle[] = [];
  try {
    for (const db of dbs) await seedWallets(db.pool, 2000, '1000000');
    for (const [i, file] of sqlFiles.entries()) if (file) await dbOf(i).pool.query(fs.readFileSync(file, 'utf8'));
    const keys = makeKeyPair();
    for (const [i, root] of [dirA, dirB].entries()) {
      servers.push(
        await startServer({
          databaseUrl: dbOf(i).url,
          publicKey: keys.publicKey,
          webhookSecret: 'whsec_unused',
          poolMax: 10,
          root,
          nodeArgs: flags[i],
          env: envs[i],
        }),
      );
    }
    const ctx = (server: ServerHandle, i: number): s.BenchContext => ({
      server,
      pool: dbOf(i).pool,
      runId: stamp,
      connections: 10,
      seconds,
      wallets: 2000,
      gatewayToken: signToken(keys, 'llm-gateway', { scope: 'usage:write', expiresIn: 7200 }),
      userTokens: [],
      webhookSecret: 'whsec_unused',
      violation: (scenario, message) => violations.push(`${scenario}: ${message}`),
    });
    const [a, b] = servers.map((server, i) => ctx(server, i));
    await s.reconcile(a, 'a-warmup', { hot: HOT, seconds: 6, rate: rate || undefined });
    await s.reconcile(b, 'b-warmup', { hot: HOT, seconds: 6, rate: rate || undefined });
    const cpu = { a: [] as number[], b: [] as number[] };
    const rps = { a: [] as number[], b: [] as number[] };
    const p99 = { a: [] as number[], b: [] as number[] };
    const rss = { a: [] as number[], b: [] as number[] };
    for (let i = 0; i < rounds; i++) {
      for (const which of i % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)) {
        // the last round's unanswered requests commit before the next count
        await new Promise((r) => setTimeout(r, 500));
        const m = await s.reconcile(which === 'a' ? a : b, `${which}-r${i}`, { hot: HOT, rate: rate || undefined });
        cpu[which].push(m.serverCpuMsPerRequest);
        rps[which].push(m.rps);
        p99[which].push(m.p99);
        rss[which].push(m.peakRssMb);
      }
      const line = (w: 'a' | 'b') =>
        `${cpu[w][i].toFixed(3)} CPU ms/req, ${rps[w][i].toFixed(0)} req/s, ` +
        `p99 ${p99[w][i].toFixed(1)} ms, RSS ${rss[w][i].toFixed(0)} MB`;
      console.log(`round ${i + 1}: A ${line('a')} | B ${line('b')}`);
    }
    const diffs = cpu.a.map((x, i) => cpu.b[i] - x);
    const summary = (w: 'a' | 'b') =>
      `median ${median(cpu[w]).toFixed(3)} ms/req, ${median(rps[w]).toFixed(0)} req/s, ` +
      `p99 ${median(p99[w]).toFixed(1)} ms, peak RSS ${Math.max(...rss[w]).toFixed(0)} MB`;
    console.log(`A ${dirA} ${flags[0].join(' ')}: ${summary('a')}`);
    console.log(`B ${dirB} ${flags[1].join(' ')}: ${summary('b')}`);
    console.log(
      `B - A: median ${median(diffs).toFixed(3)} ms/req ` +
        `(${diffs.filter((d) => d < 0).length}/${rounds} rounds B lower)`,
    );
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    for (const db of dbs) {
      await db.pool.end().catch(() => undefined);
      await db.drop();
    }
  }
  if (violations.length > 0) throw new Error(violations.join('\n'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
