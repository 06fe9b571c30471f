import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const SERVER_JS = path.join(ROOT, 'dist/src/server.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * The compiled server, as `npm start` and the container run it. `npm test` builds first
 * (pretest); this rebuilds only when src/ changed since, under a lock so parallel test files
 * never compile into dist/ at the same time.
 */
export function ensureBuilt(): string {
  const lock = path.join(ROOT, '.data', 'build.lock');
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed run is stale after five minutes.
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 300_000) fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for another build');
      execFileSync('sleep', ['0.5']);
    }
  }
  try {
    // scripts/ counts too: the CLIs (db:migrate, report:revenue) run from the same dist/.
    const newest = Math.max(newestSource(path.join(ROOT, 'src')), newestSource(path.join(ROOT, 'scripts')));
    const fresh = fs.existsSync(SERVER_JS) && fs.statSync(SERVER_JS).mtimeMs >= newest;
    if (!fresh)
      execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
        cwd: ROOT,
        stdio: 'pipe',
      });
  } finally {
    fs.rmdirSync(lock);
  }
  return SERVER_JS;
}
