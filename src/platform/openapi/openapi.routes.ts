import type { IRouter } from 'express';
import { z } from 'zod';
import { openApiDocument } from './document';
import { documentRoute, json } from './registry';

export function openApiRoutes(router: IRouter): void {
  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
}

documentRoute({
  method: 'get',
  path: '/openapi.json',
  operationId: 'getOpenApiDocument',
  summary: 'This OpenAPI 3.1 document',
  tags: ['ops'],
  responses: { 200: json(z.record(z.string(), z.unknown()), 'The OpenAPI document') },
});
