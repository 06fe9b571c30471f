import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import v8 from 'node:v8';
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
    app.post('/echo', (req, res) =>
      res
        .status(201)
        .set('X-Seen', req.get('x-probe') ?? '')
        .json({ got: req.body }),
    );
    const built: boolean[] = [];
    server = createServer(expressServerOptions(app), (req, res) => {
      built.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response);
      app(req, res);
    });
    const url = await listen(server);
    const res = await fetch(`${url}/echo`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Probe': 'p' },
      body: '{"a":1}',
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-seen')).toBe('p');
    expect(await res.json()).toEqual({ got: { a: 1 } });
    expect(built).toEqual([true]);
  });

  it('keeps every request and response a fast-property object, as Node builds its own', async () => {
    // V8's own answer (natives syntax, enabled for functions compiled after this call): a dictionary-mode
    // object makes every property access in Node's HTTP code and in Express a hash lookup
    v8.setFlagsFromString('--allow-natives-syntax');
    const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
    const app = express();
    app.use(express.json());
    const fast: boolean[] = [];
    app.post('/charge', (req, res) => {
      fast.push(hasFastProperties(req), hasFastProperties(res));
      res.status(201).json({ ok: true });
    });
    server = createServer(expressServerOptions(app), app);
    const url = await listen(server);
    for (let i = 0; i < 20; i++) {
      expect(
        (
          await fetch(`${url}/charge`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: '{"a":1}',
          })
        ).status,
      ).toBe(201);
    }
    expect(fast).toEqual(new Array(40).fill(true));
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
