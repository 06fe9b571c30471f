import type { IRouter } from 'express';
import { z } from 'zod';
import type { Metrics } from '../../platform/metrics';
import { documentRoute, json } from '../../platform/openapi/registry';
import type { HealthService } from './health.service';

export interface Lifecycle {
  /** Set on SIGTERM: readiness fails so the load balancer stops sending traffic. */
  draining: boolean;
}

export function healthRoutes(router: IRouter, health: HealthService, metrics: Metrics, lifecycle: Lifecycle): void {
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (req, res) => {
    const ok =
      !lifecycle.draining &&
      (await health.ready().catch((error) => (req.log.warn({ err: error }, 'readiness check failed'), false)));
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : lifecycle.draining ? 'draining' : 'not_ready' });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

const Status = z.object({ status: z.string() });
documentRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness (no I/O)',
  tags: ['ops'],
  responses: { 200: json(Status, 'Alive') },
});
documentRoute({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness: database answers and migrations are applied',
  tags: ['ops'],
  responses: { 200: json(Status, 'Ready'), 503: json(Status, 'Not ready or draining') },
});
documentRoute({
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics',
  tags: ['ops'],
  responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
});
