import fs from 'node:fs';
import { REPO_ROOT } from './support/k8s-manifests';

/** The image's build recipe, read as text: these checks need neither Docker nor bwrap. */
describe('Dockerfile and .dockerignore', () => {
  const dockerfile = fs.readFileSync(`${REPO_ROOT}/Dockerfile`, 'utf8');
  const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const stages = lines.reduce<string[][]>(
    (acc, l) => (l.startsWith('FROM ') ? [...acc, [l]] : (acc[acc.length - 1]?.push(l), acc)),
    [],
  );
  const runtime = stages[stages.length - 1];

  it('builds in stages from an exactly pinned Node 20 base', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/m);
    expect(stages.map((s) => s[0])).toEqual([
      'FROM ${NODE_IMAGE} AS build',
      'FROM ${NODE_IMAGE} AS deps',
      'FROM ${NODE_IMAGE} AS runtime',
    ]);
    expect(stages[0].join('\n')).toMatch(/RUN npm ci[^\n]*\n[\s\S]*RUN npm run build/);
    expect(stages[1].join('\n')).toContain('npm ci --omit=dev --omit=optional --ignore-scripts');
  });

  it('copies into the runtime exactly what the sandbox above keeps, and runs node as uid 10001 without a shell', () => {
    const copies = runtime.filter((l) => l.startsWith('COPY')).map((l) => l.replace(/\s+/g, ' '));
    expect(copies).toEqual([
      'COPY --from=deps /app/node_modules ./node_modules',
      'COPY --from=build /app/dist ./dist',
      'COPY package.json ./',
      'COPY prisma/migrations ./prisma/migrations',
      'COPY prisma/sql ./prisma/sql',
    ]);
    expect(runtime).toContain('USER 10001:10001');
    expect(runtime[runtime.length - 1]).toBe('CMD ["node", "dist/src/server.js"]');
    expect(runtime.filter((l) => /^(RUN|ENTRYPOINT)/.test(l))).toEqual([]);
    // No .env file copied, no secret passed as a build argument or baked in as an environment variable.
    expect(
      lines.filter((l) => /^(COPY|ADD)\b.*\.env|^(ARG|ENV)\b.*(SECRET|TOKEN|PASSWORD|_KEY|DATABASE_URL)/i.test(l)),
    ).toEqual([]);
  });

  it('caps the heap exactly as the Kubernetes configmap does, so the image alone behaves as in the cluster', () => {
    const configmap = fs.readFileSync(`${REPO_ROOT}/k8s/base/configmap.yaml`, 'utf8');
    const inCluster = /^\s*NODE_OPTIONS:\s*(\S.*)$/m.exec(configmap)?.[1];
    expect(inCluster).toMatch(/--max-old-space-size=\d+/);
    expect(runtime).toContain(`ENV NODE_OPTIONS=${inCluster}`);
  });

  it('keeps secrets, local data and build output out of the build context', () => {
    const ignored = fs
      .readFileSync(`${REPO_ROOT}/.dockerignore`, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(
      expect.arrayContaining([
        '.env',
        '.env.*',
        '*.pem',
        '*.key',
        '.data',
        'node_modules',
        'dist',
        '.git',
        'src/generated',
      ]),
    );
  });
});
