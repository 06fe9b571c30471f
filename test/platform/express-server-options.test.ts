import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import express from 'express';
import { expressServerOptions } from '../../src/platform/http/express-server-options';

// Node builds each request and response on the app's Express prototypes, so Express's own
// Object.setPrototypeOf in app.handle has nothing left to change (the saving is measured by the bench).

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('expressServerOptions', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it("builds requests and responses on the app's prototypes before Express sees them", async () => {
    const app = express();
    app.use(express.json());
    app.post('/echo', (req, res) => res.status(201).set('X-Seen', req.get('x-probe') ?? '').json({ got: req.body }));
    const built: boolean[] = [];
    server = createServer(expressServerOptions(app), (req, res) => {
      built.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response);
      app(req, res);
    });
    const url = await listen(server);
    const res = await fetch(`${url}/echo`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Probe': 'p' }, body: '{"a":1}' });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-seen')).toBe('p');
    expect(await res.json()).toEqual({ got: { a: 1 } });
    expect(built).toEqual([true]);
  });

  it('answers as a plain Express server does, errors included', async () => {
    const app = express();
    app.get('/boom', () => {
      throw new Error('boom');
    });
    server = createServer(expressServerOptions(app), app);
    const url = await listen(server);
    expect((await fetch(`${url}/boom`)).status).toBe(500);
    expect((await fetch(`${url}/missing`)).status).toBe(404);
  });
});
