import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { withCommonResponses } from './common-responses';
import { registry } from './registry';

let cached: object | undefined;

/** The OpenAPI 3.1 document, generated once from the schemas that validate requests. */
export function openApiDocument(): object {
  cached ??= withCommonResponses(
    new OpenApiGeneratorV31(registry.definitions).generateDocument({
      openapi: '3.1.0',
      info: {
        title: 'ScholarLink Billing',
        version: '1.0.0',
        description:
          'Prepaid credits for ScholarLink LLM calls. $1 = 1000 credits; every amount is a decimal string. ' +
          'Errors are RFC 9457 problem details. Money-moving POSTs accept Idempotency-Key.',
        license: { name: 'Proprietary (ScholarLink)', identifier: 'LicenseRef-ScholarLink-Proprietary' },
      },
      servers: [{ url: 'https://billing.scholarlink.app' }],
    }),
  );
  return cached;
}
