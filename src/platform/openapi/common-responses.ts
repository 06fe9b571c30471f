import { UNLIMITED_PATHS } from '../http/rate-limit';

type Responses = Record<string, unknown>;
interface Operation {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  requestBody?: unknown;
  responses: Responses;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

/** "post /v1/usage/holds/{holdId}/release" → "postV1UsageHoldsByHoldIdRelease". */
function operationId(method: string, path: string): string {
  const words = path
    .split('/')
    .filter(Boolean)
    .map((segment) => (segment.startsWith('{') ? `by-${segment.slice(1, -1)}` : segment))
    .flatMap((segment) => segment.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return method + words.map((w) => w[0].toUpperCase() + w.slice(1)).join('');
}

/**
 * The edge answers some problems on every route whatever the module documents (rate limits, body
 * parsing, authentication, unexpected failures). They are added here once, so a route registered by
 * any module carries them; a module's own description of the same status wins.
 */
export function withCommonResponses<T extends { paths?: object }>(doc: T): T {
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, unknown>>)) {
    for (const method of METHODS) {
      const op = item[method] as Operation | undefined;
      if (!op) continue;
      op.operationId ??= operationId(method, path);
      // No bearer scheme declared: the route is public (or, like Stripe's webhook, signed otherwise).
      op.security ??= [];
      const add = (status: number, description: string) => (op.responses[status] ??= problem(description));
      // The JSON body parser runs on every POST, with or without a documented body; path and query
      // parameters are validated too.
      if (op.requestBody || method === 'post' || (op as { parameters?: unknown[] }).parameters?.length) {
        add(
          400,
          'Malformed input, broken JSON, a repeated key, 1e400, NUL or a lone surrogate, ' +
            'or nesting deeper than 32 levels (json_too_deep); `errors` names each field',
        );
      }
      if (op.requestBody || method === 'post') {
        add(413, 'Body larger than 64 kB');
        add(415, 'Body is not application/json');
      }
      // Every route that takes Idempotency-Key answers the middleware's two refusals.
      const params = (op as { parameters?: Array<{ in?: string; name?: string }> }).parameters ?? [];
      if (params.some((p) => p.in === 'header' && p.name?.toLowerCase() === 'idempotency-key')) {
        add(409, 'A request with this Idempotency-Key is still running (`idempotency_in_progress`)');
        add(422, 'This Idempotency-Key was used with a different request (`idempotency_key_reused`)');
      }
      if (op.security.some((s) => 'bearer' in s))
        add(401, 'Missing or invalid bearer token (WWW-Authenticate: Bearer)');
      if (path.startsWith('/v1/') && !UNLIMITED_PATHS.includes(path))
        add(429, 'Rate limited; see Retry-After and RateLimit headers');
      add(500, 'Unexpected failure; safe to retry with the same Idempotency-Key');
      if (path.startsWith('/v1/'))
        add(
          503,
          'Database unavailable (`database_unavailable`); retry after Retry-After with the same requestId or ' +
            'Idempotency-Key',
        );
    }
  }
  return doc;
}
