import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './support/k8s-manifests';
import { buildOnce, cleanEnv, freePorts, startProcess, type RunningServer } from './support/server-process';
import { money } from '../../src/platform/money';
import { StripeDouble } from '../stripe-double/stripe-double.server';

const SCRIPT = path.join(REPO_ROOT, 'deployment/billing/go-live-commands.sh');
let logDir: string;

function goLive(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('bash', [SCRIPT, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: cleanEnv({ NO_COLOR: '1', GO_LIVE_LOG_DIR: logDir, ...env }),
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Like goLive, without blocking this process: the Stripe double the server calls runs here. */
function goLiveAsync(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; out: string }> {
  const child = spawn('bash', [SCRIPT, ...args], {
    cwd: REPO_ROOT,
    timeout: 120_000,
    env: cleanEnv({ NO_COLOR: '1', GO_LIVE_LOG_DIR: logDir, ...env }),
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, out }));
  });
}

const failedChecks = (out: string) =>
  out
    .split('\n')
    .filter((line) => /\bFAIL\b/.test(line))
    .map((line) => line.trim());

beforeAll(() => {
  logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'go-live-logs-'));
});
afterAll(() => fs.rmSync(logDir, { recursive: true, force: true }));

describe('go-live-commands.sh offline', () => {
  it('passes shellcheck', () => {
    const r = spawnSync('shellcheck', ['--severity=style', SCRIPT], { encoding: 'utf8' });
    if (r.error) throw new Error('shellcheck is needed (Debian package "shellcheck"): ' + r.error.message);
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('is bash with set -euo pipefail', () => {
    const head = fs.readFileSync(SCRIPT, 'utf8').split('\n').slice(0, 5);
    expect(head[0]).toBe('#!/usr/bin/env bash');
    expect(head).toContain('set -euo pipefail');
    expect(fs.statSync(SCRIPT).mode & 0o111).not.toBe(0);
  });

  it('--help names every command and exits 0; an unknown command exits non-zero', () => {
    const help = goLive(['--help']);
    expect(help.status).toBe(0);
    for (const c of ['full', 'preflight', 'smoke', 'webhook', 'canary', 'rollback', '--dry-run'])
      expect(help.out).toContain(c);
    expect(goLive(['deploy-everything']).status).not.toBe(0);
    expect(goLive([]).status).not.toBe(0);
  });

  it('--dry-run full prints every command in order, runs none, never prints a credential, and logs the run', () => {
    const secrets = {
      USER_TOKEN: 'user.token.secret1',
      GATEWAY_TOKEN: 'gw.token.secret2',
      ADMIN_TOKEN: 'admin.token.secret3',
      STRIPE_SECRET_KEY: 'sk_live_secret4',
      STRIPE_WEBHOOK_SECRET: 'whsec_secret5',
    };
    const r = goLive(['--dry-run', 'full'], { IMAGE: 'ghcr.io/scholarlink/billing:1.0.1', ...secrets });
    expect(r.status).toBe(0);
    const expected = [
      'kubectl config current-context',
      'getent hosts billing.scholarlink.app',
      'openssl s_client -connect',
      'kubectl -n scholarlink-prod wait --for=condition=Ready externalsecret/scholarlink-billing',
      'aws rds describe-db-instances',
      '/v1/webhook_endpoints',
      'aws rds create-db-snapshot',
      'aws rds wait db-snapshot-available',
      'ok   renders with image ghcr.io/scholarlink/billing:1.0.1 (Rollout and migration Job)',
      'kubectl apply --server-side --force-conflicts -k',
      'get analysistemplate scholarlink-billing-db-migrate -o json | migration_job_from_template ' +
        '| kubectl -n scholarlink-prod create -f -',
      'kubectl argo rollouts status scholarlink-billing -n scholarlink-prod',
      'https://billing.scholarlink.app/healthz',
      '/v1/usage/reconcile',
      '/v1/ledger/export.csv',
      'https://billing.scholarlink.app/v1/webhooks/stripe',
    ];
    let at = -1;
    for (const text of expected) {
      const next = r.out.indexOf(text, at + 1);
      expect([text, next > at]).toEqual([text, true]);
      at = next;
    }
    for (const value of Object.values(secrets)) expect(r.out).not.toContain(value);
    expect(r.out).toContain('full passed');
    const log = r.out.match(/log file: (\S+)/)![1];
    expect(path.dirname(log)).toBe(logDir);
    expect(fs.readFileSync(log, 'utf8')).toContain('aws rds create-db-snapshot');
  });

  it('--dry-run rollback aborts, undoes, promotes the old revision and checks the stable pods within 5 minutes', () => {
    const r = goLive(['--dry-run', 'rollback']);
    expect(r.status).toBe(0);
    for (const c of [
      'kubectl argo rollouts abort scholarlink-billing',
      'kubectl argo rollouts undo scholarlink-billing',
      'kubectl argo rollouts promote --full',
      '--timeout 300s',
      'wait --for=condition=Ready pod',
    ]) {
      expect(r.out).toContain(c);
    }
  });

  it('canary renders the release image by digest into the Rollout and the migration Job before applying', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const r = goLive(['--dry-run', 'canary'], { IMAGE: `ghcr.io/scholarlink/billing:1.0.2@${digest}` });
    expect(r.status).toBe(0);
    expect(r.out).toContain(
      `ok   renders with image ghcr.io/scholarlink/billing@${digest} (Rollout and migration Job)`,
    );
  });

  it('smoke and webhook refuse to run without an explicit BASE_URL, and name the target they check', () => {
    for (const command of ['smoke', 'webhook']) {
      const r = goLive(['--dry-run', command]);
      expect(r.status).not.toBe(0);
      expect(r.out).toContain(`${command} needs BASE_URL`);
      expect(r.out).not.toContain('billing.scholarlink.app/');
    }
    const local = goLive(['--dry-run', 'smoke'], { BASE_URL: 'http://127.0.0.1:3999' });
    expect(local.status).toBe(0);
    expect(local.out).toContain('target: http://127.0.0.1:3999');
    expect(local.out).not.toContain('https://billing.scholarlink.app');
  });

  it('--help names the log directory a run writes to', () => {
    const help = goLive(['--help'], { GO_LIVE_LOG_DIR: '', XDG_STATE_HOME: '/tmp/state-x' });
    expect(help.out).toContain(
      'GO_LIVE_LOG_DIR              where run logs go [/tmp/state-x/scholarlink-billing/go-live]',
    );
  });

  it('refuses a canary without an image', () => {
    const r = goLive(['--dry-run', 'canary']);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('canary needs IMAGE');
  });
});

describe('go-live-commands.sh smoke against a local `npm start`', () => {
  let server: RunningServer;
  let baseUrl: string;
  let tokens: Record<string, string>;
  let dataDir: string;
  // The one server is also wired to a Stripe double, so the SMOKE_STRIPE=1 run reuses it.
  const stripe = new StripeDouble();
  const webhookSecret = `whsec_${randomBytes(24).toString('base64url')}`;

  beforeAll(async () => {
    const stripeUrl = await stripe.start();
    await buildOnce();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-smoke-'));
    fs.chmodSync(dataDir, 0o755); // embedded PostgreSQL runs initdb as its own user when we are root
    const [port, pgPort] = await freePorts(2);
    baseUrl = `http://127.0.0.1:${port}`;
    // What `npm start` runs, with no DATABASE_URL: the embedded PostgreSQL and printed dev tokens.
    server = startProcess(
      process.execPath,
      ['dist/src/server.js'],
      cleanEnv({
        PORT: String(port),
        HOST: '127.0.0.1',
        BILLING_DATA_DIR: dataDir,
        EMBEDDED_PG_PORT: String(pgPort),
        LOG_LEVEL: 'warn',
        STRIPE_SECRET_KEY: stripe.secretKey,
        STRIPE_API_BASE_URL: stripeUrl,
        STRIPE_WEBHOOK_SECRET: webhookSecret,
      }),
    );
    await server.waitFor(/ADMIN_TOKEN=\S+/, 90_000);
    tokens = Object.fromEntries(
      [...server.output().matchAll(/\b(USER_TOKEN|GATEWAY_TOKEN|ADMIN_TOKEN)=(\S+)/g)].map((m) => [m[1], m[2]]),
    );
  }, 120_000);

  afterAll(async () => {
    if (server?.child.exitCode === null) await server.stop();
    await stripe.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('passes every check: health, JWT, funding, 50-credit charge, replay, CSV correlation ids, 402', () => {
    expect(Object.keys(tokens).sort()).toEqual(['ADMIN_TOKEN', 'GATEWAY_TOKEN', 'USER_TOKEN']);
    // node parses the JSON here, as on a machine without jq.
    const r = goLive(['smoke'], { BASE_URL: baseUrl, ...tokens });
    // The failed checks first: a run's full output is long, and CI logs keep only its ends.
    expect(failedChecks(r.out)).toEqual([]);
    expect(r.out).toContain('smoke passed');
    expect(r.status).toBe(0);
    for (const line of [
      'ok   GET /readyz: 200',
      'ok   alg=none token refused: 401',
      'ok   token with altered claims refused: 401',
      'ok   POST /v1/admin/credits/adjustments: 201',
      'ok   credits charged = 50',
      'ok   replayed POST /v1/usage/reconcile: 200',
      'ok   Idempotent-Replayed header = true',
      'ok   balance unchanged by the replay',
      'ok   header row names correlation_id',
      'ok   oversized call refused: 402',
      'ok   requiredCredits = 60000000',
    ])
      expect(r.out).toContain(line);
    expect(r.out).not.toContain('FAIL');
  });

  it('with SMOKE_STRIPE=1, funds via a $5 purchase and a signed webhook, credited once, correlation id', async () => {
    const api = async <T>(p: string) =>
      (
        await fetch(`${baseUrl}${p}`, { headers: { Authorization: `Bearer ${tokens.USER_TOKEN}` } })
      ).json() as Promise<T>;
    const balance = async () => money((await api<{ balance: string }>('/v1/balance')).balance);
    const before = await balance();
    const r = await goLiveAsync(['smoke'], {
      BASE_URL: baseUrl,
      SMOKE_STRIPE: '1',
      STRIPE_WEBHOOK_SECRET: webhookSecret,
      ...tokens,
    });
    // The failed checks first: a run's full output is long, and CI logs keep only its ends.
    expect(failedChecks(r.out)).toEqual([]);
    expect(r.out).toContain('smoke passed');
    expect(r.status).toBe(0);
    expect(r.out).not.toContain('FAIL');
    expect(r.out).not.toContain(webhookSecret);
    expect(r.out).not.toContain('POST /v1/admin/credits/adjustments');
    const runId = r.out.match(/\(run (\S+)\)/)![1];

    // The service really created a Checkout Session at "Stripe" for the purchase the script started.
    const created = stripe.requestsTo('POST', '/v1/checkout/sessions');
    expect(created).toHaveLength(1);
    const session = stripe.sessions.at(-1)!;
    const purchaseId = session.metadata.purchaseId as string;
    const purchase = await api<Record<string, string>>(`/v1/credits/purchases/${purchaseId}`);
    expect([purchase.status, purchase.stripeCheckoutSessionId, purchase.totalCredits]).toEqual([
      'paid',
      session.id,
      '5000',
    ]);

    // Exactly one purchase entry for that session: 5,000 credits under the webhook's correlation id.
    const ledger = (
      await api<{ data: { type: string; amount: string; reference: string; correlationId: string }[] }>(
        '/v1/ledger?limit=200',
      )
    ).data;
    const entries = ledger.filter((e) => e.type === 'purchase' && e.reference === session.id);
    expect(entries.map((e) => [money(e.amount).toFixed(), e.correlationId])).toEqual([
      ['5000', `smoke-${runId}-purchase-webhook`],
    ]);
    expect(r.out).toContain('ok   purchase ledger entry amount = 5000');
    expect(r.out).toContain(`ok   purchase ledger entry correlationId = smoke-${runId}-purchase-webhook`);
    // Funded by 5,000, charged 50 by the reference call.
    expect((await balance()).minus(before).toFixed()).toBe('4950');
  }, 180_000);

  it('fails when a check fails (the gateway token lacks usage:write)', () => {
    const r = goLive(['smoke'], { BASE_URL: baseUrl, ...tokens, GATEWAY_TOKEN: tokens.USER_TOKEN });
    expect(r.status).toBe(1);
    expect(r.out).toContain('FAIL POST /v1/usage/reconcile: got 403');
    expect(r.out).toContain('smoke FAILED');
  });

  it('stops on SIGTERM with exit code 0 (embedded PostgreSQL stopped too)', async () => {
    expect(await server.stop()).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  });
});
