import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT } from './k8s-manifests';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `npm run build` once per jest run: test files run in parallel workers, and a second build
 * rewriting dist/ under a server that is starting would break it. A lock directory serialises
 * the workers; a stamp naming the jest parent process skips the rebuild within one run.
 */
export async function buildOnce(): Promise<void> {
  const dataDir = path.join(REPO_ROOT, '.data');
  fs.mkdirSync(dataDir, { recursive: true });
  const lock = path.join(dataDir, 'deploy-build.lock');
  const stamp = path.join(dataDir, 'deploy-build.stamp');
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed run is stale after five minutes.
      if (Date.now() - fs.statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 300_000) fs.rmSync(lock, { recursive: true, force: true });
      await sleep(200);
    }
  }
  try {
    const runId = String(process.ppid);
    const fresh = fs.existsSync(path.join(REPO_ROOT, 'dist/src/server.js')) && fs.readFileSync(stamp, { encoding: 'utf8', flag: 'a+' }) === runId;
    if (!fresh) {
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, stdio: 'pipe' });
      fs.writeFileSync(stamp, runId);
    }
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Distinct ports nobody listens on right now (all bound on 127.0.0.1:0 together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export interface RunningServer {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends SIGTERM to the given pid (default: the child) and resolves with the child's exit code. */
  stop(pid?: number): Promise<number | null>;
}

export function startProcess(command: string, args: string[], env: Record<string, string>): RunningServer {
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = out.match(pattern);
        if (m) return m;
        if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before ${pattern}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${out}`);
        await sleep(100);
      }
    },
    async stop(pid = child.pid!) {
      if (child.exitCode === null) process.kill(pid, 'SIGTERM');
      return exited;
    },
  };
}

/** The environment a clean shell would give: PATH only, none of jest's or the caller's database settings. */
export function cleanEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...extra };
}
