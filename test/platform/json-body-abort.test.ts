import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { jsonBody } from '../../src/platform/http/json-body';

/**
 * A request whose client disconnects while an earlier middleware is still awaiting (in production the
 * Redis rate limiter) must still leave the body reader, so the error handler logs and counts it.
 */
describe('JSON body of a request whose client has already gone', () => {
  it('passes an error on instead of waiting forever for a body that will never come', async () => {
    const outcomes: string[] = [];
    const app = express();
    app.use((req, _res, next) => {
      req.once('close', () => setTimeout(next, 20)); // the "slow limiter" answers after the client left
    });
    app.use(jsonBody());
    app.post('/x', (_req, res) => {
      outcomes.push('handler');
      res.end();
    });
    app.use((error: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      outcomes.push(`error ${error.status}`);
      res.end();
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write('POST /x HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"a"');
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
      for (let i = 0; i < 50 && outcomes.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(outcomes).toEqual(['error 400']);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
