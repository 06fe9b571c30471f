import type { NextFunction, Request, Response } from 'express';
import type { Metrics } from '../metrics';
import { wouldLog } from './correlation-id';

/** One log line and one metric sample per request, labelled by route template, never raw path. */
export function requestLogger(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.route?.path
        ? `${req.baseUrl}${req.route.path}`
        : res.statusCode === 404
          ? 'unmatched'
          : req.baseUrl || 'unmatched';
      const labels = { method: req.method, route, status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpRequestDuration.observe(labels, seconds);
      if (route === '/metrics' || route === '/healthz' || route === '/readyz') return;
      if (!wouldLog(req, 'info')) return; // spares building the line (and the lazy child logger) at LOG_LEVEL=warn
      req.log.info(
        {
          method: req.method,
          route,
          status: res.statusCode,
          durationMs: Math.round(seconds * 1e6) / 1e3,
          userId: req.principal?.sub,
        },
        'request',
      );
    });
    next();
  };
}
