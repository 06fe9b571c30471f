import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { correlationId } from '../../src/platform/http/correlation-id';
import { requestLogger } from '../../src/platform/http/request-logger';
import { createLogger } from '../../src/platform/logger';
import { createMetrics } from '../../src/platform/metrics';

/** An app whose logger records its lines and counts the child loggers built from it. */
function appLoggingAt(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) });
  const logger = createLogger(level, sink);
  const counter = { children: 0 };
  const child = logger.child.bind(logger);
  logger.child = ((...args: Parameters<typeof logger.child>) => (
    counter.children++,
    child(...args)
  )) as typeof logger.child;
  const app = express();
  app.use(correlationId(logger), requestLogger(createMetrics()));
  app.get('/v1/thing', (_req, res) => void res.json({ ok: true }));
  app.get('/v1/logs-a-warning', (req, res) => {
    req.log.warn('something odd');
    res.json({ ok: true });
  });
  return { app, lines, counter };
}

describe('per-request logging', () => {
  it('at warn level, a request that logs nothing builds no child logger and writes no line', async () => {
    const { app, lines, counter } = appLoggingAt('warn');
    await request(app).get('/v1/thing').expect(200);
    expect(counter.children).toBe(0);
    expect(lines).toEqual([]);
  });

  it('at warn level, a warning still carries the request correlation id', async () => {
    const { app, lines } = appLoggingAt('warn');
    await request(app).get('/v1/logs-a-warning').set('X-Correlation-Id', 'corr-warn-1').expect(200);
    expect(lines).toEqual([
      expect.objectContaining({ level: 'warn', msg: 'something odd', correlationId: 'corr-warn-1' }),
    ]);
  });

  it('at info level, each request writes one line with its route, status and correlation id', async () => {
    const { app, lines } = appLoggingAt('info');
    await request(app).get('/v1/thing').set('X-Correlation-Id', 'corr-info-1').expect(200);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'request',
        route: '/v1/thing',
        status: 200,
        correlationId: 'corr-info-1',
      }),
    ]);
  });
});
