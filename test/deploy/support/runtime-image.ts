import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './k8s-manifests';

/**
 * bwrap arguments that make the checkout look like the runtime image: every package that
 * `npm ci --omit=dev --omit=optional` leaves out (per package-lock.json) and every source folder
 * the Dockerfile does not copy are hidden behind empty tmpfs mounts, inside the sandbox only.
 * What remains is what the image has: dist/, production node_modules, package.json, prisma/migrations, prisma/sql.
 */
export function runtimeImageMasks(): { args: string[]; hiddenPackages: string[] } {
  const lock = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }>;
  };
  const modules = fs.realpathSync(path.join(REPO_ROOT, 'node_modules'));
  const hiddenPackages = Object.entries(lock.packages)
    .filter(
      ([key, p]) =>
        key.startsWith('node_modules/') &&
        key.lastIndexOf('node_modules/') === 0 &&
        (p.dev || p.devOptional || p.optional),
    )
    .map(([key]) => key.slice('node_modules/'.length))
    .filter((name) => fs.existsSync(path.join(modules, name)));
  const sources = ['src', 'scripts', 'test', 'k8s', 'deployment', '.data'].filter((d) =>
    fs.existsSync(path.join(REPO_ROOT, d)),
  );
  const args = [
    ...hiddenPackages.flatMap((name) => ['--tmpfs', path.join(modules, name)]),
    ...sources.flatMap((d) => ['--tmpfs', path.join(REPO_ROOT, d)]),
  ];
  return { args, hiddenPackages };
}
