import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { REPO_ROOT } from './support/k8s-manifests';

type LockedPackage = { name?: string; version?: string; link?: boolean; resolved?: string; engines?: unknown };

/** `npm ci` stays quiet on the pinned Node: what it installs is read from package-lock.json, offline. */
describe('the locked dependency tree', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    engines: { node: string };
  };
  const lock = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockedPackage>;
  };
  const oldestNode = semver.minVersion(manifest.engines.node)!.version;

  it("accepts the oldest Node that package.json's engines allows, in every package (no EBADENGINE)", () => {
    const refusing = Object.entries(lock.packages)
      .map(([key, p]) => [key, (p.engines as { node?: string } | undefined)?.node] as const)
      .filter(([, range]) => typeof range === 'string' && !semver.satisfies(oldestNode, range))
      .map(([key, range]) => `${key} needs node ${range}`);
    expect(refusing).toEqual([]);
  });

  it('links @prisma/streams-local (prisma dev only, Node >=22) to the stub in scripts/stubs', () => {
    const stubDir = 'scripts/stubs/prisma-streams-local';
    expect(lock.packages['node_modules/@prisma/streams-local']).toEqual({ resolved: stubDir, link: true });
    expect(Object.keys(lock.packages).filter((k) => k.endsWith('/@prisma/streams-local'))).toEqual([
      'node_modules/@prisma/streams-local',
    ]);
    // The image's build stage runs `npm ci` with dev dependencies, so the stub must be in its context by then.
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile.indexOf('COPY scripts ./scripts')).toBeGreaterThan(-1);
    expect(dockerfile.indexOf('COPY scripts ./scripts')).toBeLessThan(dockerfile.indexOf('RUN npm ci'));
  });

  it('the stub refuses to start prisma dev and says why, instead of failing somewhere inside Prisma', async () => {
    const stub = await import('@prisma/streams-local');
    expect(() => stub.startLocalDurableStreamsServer({ hostname: '127.0.0.1' })).toThrow(
      /prisma dev is not supported here.*Node >=22/,
    );
  });
});
