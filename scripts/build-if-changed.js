#!/usr/bin/env node
// `npm start`, `db:migrate` and `report:revenue` run the compiled dist/; this builds it first only when a
// source (src/, scripts/, the generated Prisma client, tsconfig, package.json) is newer than the last build.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const stamp = path.join(root, 'dist', '.build-stamp');

function newest(p) {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  return fs.readdirSync(p).reduce((m, name) => Math.max(m, newest(path.join(p, name))), st.mtimeMs);
}

const sources = ['src', 'scripts', 'tsconfig.json', 'tsconfig.build.json', 'package.json'].map((p) =>
  path.join(root, p),
);
const built = newest(stamp);
if (built > 0 && sources.every((p) => newest(p) <= built)) process.exit(0);
console.error('building dist/ (sources changed since the last build)');
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
fs.writeFileSync(stamp, new Date().toISOString() + '\n');
