import { extendZodWithOpenApi, OpenAPIRegistry, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

extendZodWithOpenApi(z);

/** One registry; each module's schemas file registers its routes here, from the schemas that validate them. */
export const registry = new OpenAPIRegistry();
registry.registerComponent('securitySchemes', 'bearer', {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT (RS256)',
});

export const DecimalString = z
  .string()
  .regex(/^-?\d+(\.\d+)?$/)
  .openapi('DecimalString', { description: 'Exact decimal in plain notation (never a JSON number)', example: '50' });

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    correlationId: z.string(),
  })
  .catchall(z.unknown())
  .openapi('Problem', { description: 'RFC 9457 problem details' });

// Registered on its own so the edge's shared problem responses can reference it.
registry.register('Problem', Problem);

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: Problem } },
});

export const problems = {
  400: problem('Malformed input; `errors` names each field'),
  401: problem('Missing or invalid bearer token'),
  402: problem('Not enough credits; carries requiredCredits, availableCredits and shortfall'),
  403: problem('Valid token without the needed scope'),
  404: problem('No such resource'),
  409: problem('A request with this Idempotency-Key is still running'),
  413: problem('Body too large'),
  415: problem('Body is not JSON'),
  422: problem('Understood but refused (unknown model or package, idempotency mismatch)'),
  429: problem('Rate limited; see Retry-After'),
  500: problem('Unexpected failure; safe to retry with the same Idempotency-Key'),
  503: problem('Not ready'),
} as const;

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const IdempotencyKeyHeader = z
  .string()
  .min(1)
  .max(255)
  .openapi({ description: 'Per-caller idempotency key (printable ASCII)' });

export function documentRoute(config: RouteConfig): void {
  registry.registerPath(config);
}
