import { signDevToken, type DevKeys } from './dev-keys';

/** Ready-to-paste tokens and curl lines for a local instance (development only). */
export function devBanner(keys: DevKeys, baseUrl: string, issuer?: string, audience?: string): string {
  const sign = (sub: string, scope?: string) => signDevToken(keys, sub, scope, { issuer, audience });
  const user = sign('user_demo');
  const gateway = sign('llm-gateway', 'usage:write');
  const admin = sign('finance-admin', 'billing:admin');
  return [
    '',
    'ScholarLink Billing (development) — tokens signed by .data/dev-jwt-private.pem, valid 12h; paste into your shell:',
    `  export USER_TOKEN=${user}`,
    `  export GATEWAY_TOKEN=${gateway}`,
    `  export ADMIN_TOKEN=${admin}`,
    '',
    'Try:',
    `  curl -s ${baseUrl}/v1/credit-packages`,
    `  curl -s -X POST ${baseUrl}/v1/admin/credits/adjustments -H "Authorization: Bearer $ADMIN_TOKEN"` +
      ` -H 'Content-Type: application/json' -H "Idempotency-Key: grant-1"` +
      ` -d '{"userId":"user_demo","amount":"5000","reason":"welcome grant"}'`,
    `  curl -s -X POST ${baseUrl}/v1/usage/reconcile -H "Authorization: Bearer $GATEWAY_TOKEN"` +
      ` -H 'Content-Type: application/json'` +
      ` -d '{"userId":"user_demo","requestId":"call-1","model":"gpt-4o","inputTokens":1000,"outputTokens":500}'`,
    `  curl -s ${baseUrl}/v1/balance -H "Authorization: Bearer $USER_TOKEN"`,
    `  curl -s ${baseUrl}/v1/ledger/export.csv -H "Authorization: Bearer $USER_TOKEN"`,
    'More: README.md (API tour) and docs/api.md. Ctrl-C stops the server.',
    '',
  ].join('\n');
}
