import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { cpuMsOf } from './cpu-usage';

export const ROOT = path.resolve(__dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** VmRSS and VmHWM of a process, in MB, from /proc (Linux). */
export function memoryOf(pid: number): { rssMb: number; hwmMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/**
 * The V8 flags production starts node with (NODE_OPTIONS in k8s/base/configmap.yaml; the Dockerfile sets
 * the same): the heap cap changes how far V8 lets the heap grow, so a bench without it measures a
 * memory profile production never has (on a 24 GB host the default old-space limit is several GB, and
 * V8 then grows the heap up to 4x the live set before collecting).
 */
export function productionNodeOptions(): string {
  const configmap = fs.readFileSync(path.join(ROOT, 'k8s', 'base', 'configmap.yaml'), 'utf8');
  return /^\s*NODE_OPTIONS:\s*"?([^"\n]*)"?\s*$/m.exec(configmap)?.[1].trim() ?? '';
}

export interface ServerHandle {
  url: string;
  pid: number;
  /** Starts a fresh peak window; peak() returns the highest RSS sampled since then. */
  resetPeak(): number;
  peak(): number;
  rss(): number;
  /** CPU the server has used so far: per request it does not depend on what else loads the machine */
  cpuMs(): number;
  stop(): Promise<void>;
}

export interface ServerOptions {
  databaseUrl: string;
  publicKey: string;
  webhookSecret: string;
  poolMax: number;
  cpuProfileDir?: string;
  /** Checkout whose dist/ to run (bench/ab-cpu.ts compares two); this one by default. */
  root?: string;
  /** V8 flags for this server only, after BENCH_NODE_ARGS (ab-cpu.ts compares flags on one build) */
  nodeArgs?: string[];
  /** Extra environment for this server, e.g. REDIS_URL to measure the limiters' Redis round trip */
  env?: Record<string, string>;
}

/** The production build (`node dist/src/server.js`) on a free loopback port, RSS sampled every 50 ms. */
export async function startServer(o: ServerOptions): Promise<ServerHandle> {
  const port = await freePort();
  const nodeArgs = o.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfileDir}`] : [];
  // lets a run try V8 flags on the server alone, e.g. BENCH_NODE_ARGS=--max-semi-space-size=8
  nodeArgs.push(...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), ...(o.nodeArgs ?? []));
  const root = o.root ?? ROOT;
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, path.join(root, 'dist', 'src', 'server.js')], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: o.databaseUrl,
      DATABASE_POOL_MAX: String(o.poolMax),
      DATABASE_POOL_MIN: String(Math.min(2, o.poolMax)),
      JWT_PUBLIC_KEY: o.publicKey,
      STRIPE_SECRET_KEY: 'sk_test_bench_dummy',
      STRIPE_WEBHOOK_SECRET: o.webhookSecret,
      STRIPE_API_BASE_URL: 'http://127.0.0.1:9',
      // the limiters guard production traffic; here they would only measure themselves
      RATE_LIMIT_PER_MINUTE: '100000000',
      SERVICE_RATE_LIMIT_PER_MINUTE: '100000000',
      LOG_LEVEL: 'warn',
      NODE_OPTIONS: productionNodeOptions(),
      ...o.env,
    },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before it was ready`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL'); // nobody holds a handle to it yet: it would outlive the bench
      throw new Error('server not ready within 30 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = child.pid!;
  let current = memoryOf(pid).rssMb;
  let peak = current;
  const timer = setInterval(() => {
    try {
      current = memoryOf(pid).rssMb;
      peak = Math.max(peak, current);
    } catch {
      clearInterval(timer);
    }
  }, 50);
  timer.unref();
  return {
    url,
    pid,
    resetPeak: () => (peak = current = memoryOf(pid).rssMb),
    peak: () => Math.max(peak, memoryOf(pid).rssMb),
    rss: () => memoryOf(pid).rssMb,
    cpuMs: () => cpuMsOf(pid),
    async stop() {
      clearInterval(timer);
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`server exited with ${code} on SIGTERM`);
    },
  };
}
