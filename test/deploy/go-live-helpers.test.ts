import { spawnSync } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import jwt from 'jsonwebtoken';
import Stripe from 'stripe';
import { makeKeyPair } from '../helpers/keys';
import { createTokenVerifier } from '../../src/platform/auth/token-verifier';
import { stripeSignature, tokens, usage } from '../../deployment/billing/go-live-checks';
import { OVERLAY_DIR, REPO_ROOT, one, render, validateWithModels } from './support/k8s-manifests';

// The script's helpers, called by sourcing it (sourcing defines functions and runs nothing).
const SCRIPT = path.join(REPO_ROOT, 'deployment/billing/go-live-commands.sh');
function helper(call: string, env: Record<string, string> = {}): string {
  const r = spawnSync('bash', ['-c', `source "$SCRIPT" && ${call}`], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH!, SCRIPT, ...env },
  });
  if (r.status !== 0) throw new Error(`${call}: ${r.stderr}`);
  return r.stdout;
}

describe('go-live-commands.sh and go-live-checks.ts helpers', () => {
  it('signs a webhook payload the way Stripe verifies it (t=..,v1=HMAC-SHA256 of "t.payload")', () => {
    const payload = JSON.stringify({
      id: 'evt_smoke_1',
      object: 'event',
      type: 'checkout.session.completed',
      data: { object: { id: 'cs_test_1', amount_total: 500 } },
    });
    const secret = 'whsec_test_helper';
    const header = stripeSignature(payload, secret);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const stripe = new Stripe('sk_test_helper');
    expect(stripe.webhooks.constructEvent(payload, header, secret).id).toBe('evt_smoke_1');
    expect(() => stripe.webhooks.constructEvent(payload, header, 'whsec_other')).toThrow(/signature/i);
  });

  it('builds request bodies as JSON, so a quote or backslash in a user id stays inside its string', () => {
    const id = 'user "quoted" \\ back';
    expect(JSON.parse(usage(id, 'req-1', 1000, 500))).toEqual({
      userId: id,
      requestId: 'req-1',
      model: 'gpt-4o',
      inputTokens: 1000,
      outputTokens: 500,
    });
  });

  it('turns the migration AnalysisTemplate into a valid one-off Job for the first deployment', () => {
    const template = one(render(OVERLAY_DIR), 'AnalysisTemplate', 'scholarlink-billing-db-migrate');
    const job = JSON.parse(
      helper('migration_job_from_template <<<"$TEMPLATE"', { TEMPLATE: JSON.stringify(template) }),
    );
    expect(job.metadata.generateName).toBe('scholarlink-billing-db-migrate-initial-');
    expect(job.spec.template.spec.containers[0]).toMatchObject({
      command: ['node', 'dist/scripts/db-migrate.js'],
      image: expect.stringMatching(/^ghcr\.io\/scholarlink\/billing:/),
    });
    const [result] = validateWithModels([{ object: job }]);
    expect(result).toEqual({ schema: 'kubernetes-models/batch/v1/Job', errors: [] });
  });

  it("mints RS256 tokens from JWT_SIGNING_KEY_FILE that the service's verifier accepts", async () => {
    const keys = makeKeyPair();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mint-'));
    const keyFile = path.join(dir, 'key.pem');
    fs.writeFileSync(keyFile, keys.privateKey, { mode: 0o600 });
    const saved = { ...process.env };
    Object.assign(process.env, {
      JWT_SIGNING_KEY_FILE: keyFile,
      JWT_ISSUER: 'https://auth.example/',
      JWT_AUDIENCE: 'scholarlink-billing',
      USER_TOKEN: '',
      GATEWAY_TOKEN: '',
      ADMIN_TOKEN: '',
    });
    try {
      const token = tokens().gateway;
      const verifier = createTokenVerifier({
        publicKey: keys.publicKey,
        issuer: 'https://auth.example/',
        audience: 'scholarlink-billing',
      });
      const principal = await verifier.verify(token);
      expect([principal.sub, [...principal.scopes]]).toEqual(['llm-gateway', ['usage:write']]);
      const claims = jwt.decode(token) as jwt.JwtPayload;
      expect(claims.exp! - claims.iat!).toBe(900);
      expect(() => jwt.verify(token, makeKeyPair().publicKey, { algorithms: ['RS256'] })).toThrow(/signature/);
    } finally {
      process.env = saved;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('redacts every credential from displayed commands', () => {
    const out = helper('show curl -H "Authorization: Bearer $ADMIN_TOKEN" -u "$STRIPE_SECRET_KEY:" https://x', {
      ADMIN_TOKEN: 'eyJ.secret.sig',
      STRIPE_SECRET_KEY: 'sk_live_123',
      NO_COLOR: '1',
    });
    expect(out).not.toMatch(/eyJ\.secret\.sig|sk_live_123/);
    expect(out).toContain('***');
  });
});
