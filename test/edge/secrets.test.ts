import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { withSecrets } from '../../src/platform/secrets';
import { spawnServer } from '../helpers/ts-node-server';

/** A local stand-in for AWS Secrets Manager speaking its JSON protocol (GetSecretValue only). */
const secrets = new Map<string, string>();
const calls: Array<{ target: string | undefined; secretId: string; signed: boolean }> = [];
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    const target = req.headers['x-amz-target'] as string | undefined;
    const { SecretId } = JSON.parse(body) as { SecretId: string };
    calls.push({
      target,
      secretId: SecretId,
      signed: /^AWS4-HMAC-SHA256 Credential=AKIDTEST/.test(req.headers.authorization ?? ''),
    });
    const reply = (status: number, payload: object, errorType?: string) => {
      res.writeHead(status, {
        'Content-Type': 'application/x-amz-json-1.1',
        ...(errorType ? { 'x-amzn-ErrorType': errorType } : {}),
      });
      res.end(JSON.stringify(payload));
    };
    if (req.method !== 'POST' || target !== 'secretsmanager.GetSecretValue')
      return reply(400, { __type: 'UnknownOperationException' }, 'UnknownOperationException');
    const value = secrets.get(SecretId);
    if (value === undefined) {
      return reply(
        400,
        { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." },
        'ResourceNotFoundException',
      );
    }
    reply(200, {
      ARN: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${SecretId}`,
      Name: SecretId,
      SecretString: value,
      VersionId: 'v1',
      CreatedDate: 1700000000,
    });
  });
});

let awsEnv: Record<string, string>;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  awsEnv = {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'not-a-real-secret',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  // The SDK reads region, credentials and endpoint from the process environment, as in production.
  Object.assign(process.env, awsEnv);
});
afterAll(() => new Promise((r) => server.close(r)));

const PRODUCTION_SECRET = JSON.stringify({
  DATABASE_URL: 'postgresql://billing:db-password-from-secret@db.internal:5432/billing',
  STRIPE_SECRET_KEY: 'sk_live_from_secret_8d1f',
  STRIPE_WEBHOOK_SECRET: 'whsec_from_secret_77aa',
  RATE_LIMIT_PER_MINUTE: 120,
});

describe('secrets from AWS Secrets Manager', () => {
  it('reads the JSON secret through the real SDK and lets its keys override the environment', async () => {
    secrets.set('billing/prod', PRODUCTION_SECRET);
    const env = await withSecrets({
      AWS_SECRETS_MANAGER_SECRET_ID: 'billing/prod',
      STRIPE_SECRET_KEY: 'sk_from_env',
      LOG_LEVEL: 'warn',
    });
    expect(env).toMatchObject({
      STRIPE_SECRET_KEY: 'sk_live_from_secret_8d1f',
      STRIPE_WEBHOOK_SECRET: 'whsec_from_secret_77aa',
      DATABASE_URL: 'postgresql://billing:db-password-from-secret@db.internal:5432/billing',
      RATE_LIMIT_PER_MINUTE: '120',
      LOG_LEVEL: 'warn',
    });
    expect(calls.at(-1)).toEqual({ target: 'secretsmanager.GetSecretValue', secretId: 'billing/prod', signed: true });
  });

  it('leaves the environment alone when no secret id is set', async () => {
    const before = calls.length;
    const env = { STRIPE_SECRET_KEY: 'sk_env' };
    expect(await withSecrets(env)).toBe(env);
    expect(calls.length).toBe(before);
  });

  it('stops with a message naming a missing secret', async () => {
    await expect(withSecrets({ AWS_SECRETS_MANAGER_SECRET_ID: 'billing/absent' })).rejects.toThrow(
      /"billing\/absent".*ResourceNotFoundException/,
    );
  });

  it('stops with a message naming the secret, and never quoting it, when it is not a JSON object', async () => {
    for (const [id, value] of [
      ['billing/broken', '{"STRIPE_SECRET_KEY": "sk_live_leaky_3c3c", '],
      ['billing/array', '["sk_live_leaky_3c3c"]'],
    ]) {
      secrets.set(id, value);
      const error = (await withSecrets({ AWS_SECRETS_MANAGER_SECRET_ID: id }).catch((e: Error) => e)) as Error;
      expect(error.message).toContain(`"${id}"`);
      expect(error.message).toMatch(/not a JSON object/);
      expect(error.message).not.toContain('sk_live_leaky');
    }
  });
});

describe('starting the server', () => {
  it('exits non-zero in production when a required variable is missing, naming the variable', async () => {
    const server = spawnServer({
      NODE_ENV: 'production',
      STRIPE_SECRET_KEY: 'sk_test_x',
      STRIPE_WEBHOOK_SECRET: 'whsec_x',
      JWT_JWKS_URL: 'https://auth.example/jwks.json',
    });
    expect(await server.exited).toBe(1);
    expect(server.stderr()).toMatch(/DATABASE_URL: is required in production/);
    expect(server.stderr()).not.toMatch(/sk_test_x|whsec_x|\n\s+at /);
  });

  it('exits non-zero when its secret is malformed, naming the secret id and not its content', async () => {
    secrets.set('billing/corrupt', '{"STRIPE_WEBHOOK_SECRET": "whsec_leaky_9e9e"');
    const server = spawnServer({ NODE_ENV: 'production', AWS_SECRETS_MANAGER_SECRET_ID: 'billing/corrupt', ...awsEnv });
    expect(await server.exited).toBe(1);
    expect(server.stderr()).toContain('"billing/corrupt"');
    expect(server.stderr() + server.stdout()).not.toContain('whsec_leaky');
  });
});
