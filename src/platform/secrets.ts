import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * With AWS_SECRETS_MANAGER_SECRET_ID set, the JSON secret's keys override the environment.
 * Region, credentials and endpoint come from the standard AWS variables (AWS_REGION,
 * AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL), so a local endpoint works in tests.
 * Errors name the secret id, never its content.
 */
export async function withSecrets(
  env: Record<string, string | undefined>,
): Promise<Record<string, string | undefined>> {
  const secretId = env.AWS_SECRETS_MANAGER_SECRET_ID;
  if (!secretId) return env;
  const client = new SecretsManagerClient({ maxAttempts: 3 });
  let text: string | undefined;
  try {
    const result = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    text = result.SecretString ?? (result.SecretBinary ? Buffer.from(result.SecretBinary).toString('utf8') : undefined);
  } catch (error) {
    throw new Error(`Could not read secret "${secretId}" from AWS Secrets Manager: ${(error as Error).name}`, {
      cause: error,
    });
  } finally {
    client.destroy();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    throw new Error(`Secret "${secretId}" is not a JSON object`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error(`Secret "${secretId}" is not a JSON object`);
  const overrides = Object.fromEntries(
    Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [
      k,
      typeof v === 'string' ? v : JSON.stringify(v),
    ]),
  );
  return { ...env, ...overrides };
}
