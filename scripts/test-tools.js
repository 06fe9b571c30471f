#!/usr/bin/env node
// Runs before `npm test` (the `pretest` script): the suite needs a few Debian tools beyond `npm ci`.
// When one is missing and we are root on Debian, it installs it with apt-get and says so; otherwise it
// prints how to get it, and only the tests that need that tool fail, each saying so in one line.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');

const TOOLS = [
  { cmd: 'bwrap', pkg: 'bubblewrap', usedBy: 'test/deploy/container.test.ts (read-only, non-root server run)' },
  { cmd: 'promtool', pkg: 'prometheus', usedBy: 'test/deploy/alert-rules.test.ts (alert rules)' },
  { cmd: 'shellcheck', pkg: 'shellcheck', usedBy: 'test/deploy/go-live-script.test.ts' },
  { cmd: 'jq', pkg: 'jq', usedBy: 'deployment/billing/go-live-commands.sh (test/deploy/go-live-*.test.ts)' },
  { cmd: 'wrk', pkg: 'wrk', usedBy: 'test/bench/wrk-load.test.ts, test/bench/wrk-paced.test.ts and npm run bench' },
  // The read-replica tests start their own primary and hot standby with the server's binaries.
  { cmd: '/usr/lib/postgresql/15/bin/pg_basebackup', pkg: 'postgresql-15', usedBy: 'the read-replica tests' },
  { cmd: 'pgbench', pkg: 'postgresql-contrib', usedBy: 'test/bench/pgbench-floor.test.ts and npm run bench' },
];

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = TOOLS.filter((t) => !has(t.cmd));
if (missing.length === 0) process.exit(0);

const pkgs = [...new Set(missing.map((t) => t.pkg))];
const canInstall =
  process.getuid?.() === 0 &&
  has('apt-get') &&
  fs.existsSync('/etc/debian_version') &&
  process.env.BILLING_TEST_NO_INSTALL !== '1';
for (const t of missing) console.log(`npm test: ${t.cmd} is missing (Debian package ${t.pkg}), needed by ${t.usedBy}`);
if (!canInstall) {
  console.log(`npm test: not installing (needs root on Debian); install with: sudo apt-get install ${pkgs.join(' ')}`);
  process.exit(0);
}
console.log(`npm test: installing ${pkgs.join(' ')} with apt-get (once; set BILLING_TEST_NO_INSTALL=1 to skip)`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const run = (args) => spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env }).status === 0;
const ok = run(['update', '-qq']) && run(['install', '-y', '-qq', '--no-install-recommends', ...pkgs]);
const still = missing.filter((t) => !has(t.cmd)).map((t) => t.cmd);
console.log(
  ok && still.length === 0 ? 'npm test: installed' : `npm test: apt-get failed; still missing: ${still.join(' ')}`,
);
