import { spawn, type ChildProcess } from 'node:child_process';
import { ensureBuilt, ROOT } from './build';
import { freePort } from './ports';
import { AUDIENCE, ISSUER } from './test-app';

export { freePort };

/**
 * What a replica test gives each built server: one shared database, the test key pair's public key
 * and issuer, no rate limits (the tests count charges, not 429s), and the test's own additions.
 */
export function replicaEnv(databaseUrl: string, publicKey: string, extra: Record<string, string>) {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_MIN: '0',
    JWT_PUBLIC_KEY: publicKey,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '1000000',
    SERVICE_RATE_LIMIT_PER_MINUTE: '1000000',
    ...extra,
  };
}

export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  output(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Runs the built server (`node dist/src/server.js`, what `npm start` runs) until it answers /healthz. */
export async function startServer(env: Record<string, string>, timeoutMs = 90_000): Promise<ServerProcess> {
  const server = ensureBuilt();
  const port = env.PORT ?? String(await freePort());
  const child = spawn(process.execPath, [server], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', ...env, PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}):\n${out}`);
    const ok = await fetch(`${baseUrl}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    baseUrl,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
