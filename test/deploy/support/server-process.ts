import { spawn, type ChildProcess } from 'node:child_process';
import { ensureBuilt } from '../../helpers/build';
import { REPO_ROOT } from './k8s-manifests';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The compiled server, shared with every other test that runs dist/: built by `npm test`'s
 * pretest and rebuilt only when sources changed, under one lock (test/helpers/build.ts), so no
 * test ever compiles into dist/ while another one is starting a server from it.
 */
export async function buildOnce(): Promise<void> {
  ensureBuilt();
}

export { freePorts } from '../../helpers/ports';

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
