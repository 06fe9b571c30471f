import express from 'express';
import request from 'supertest';
import { errorHandler } from '../../src/platform/http/error-handler';

describe('the error handler, given the error body-parser passes on when the client left mid-body', () => {
  it('answers 400 and logs no database fault: ECONNABORTED there is the client, not PostgreSQL', async () => {
    const logged: string[] = [];
    const app = express();
    app.use((req, _res, next) => {
      (req as unknown as { log: unknown }).log = {
        error: (_o: unknown, msg: string) => logged.push(msg),
        warn: () => undefined,
      };
      next();
    });
    // What raw-body builds on 'aborted' (node_modules/raw-body/index.js).
    app.post('/x', (_req, _res, next) =>
      next(
        Object.assign(new Error('request aborted'), {
          status: 400,
          statusCode: 400,
          expose: true,
          code: 'ECONNABORTED',
          type: 'request.aborted',
        }),
      ),
    );
    app.use(errorHandler);
    const res = await request(app).post('/x');
    expect(res.status).toBe(400);
    expect(logged).toEqual([]);
  });
});
