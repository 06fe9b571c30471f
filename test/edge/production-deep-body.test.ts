import http from 'node:http';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { makeKeyPair } from '../helpers/keys';
import { startServer, type ServerProcess } from '../helpers/server-process';

let database: TestDatabase;
let server: ServerProcess | undefined;
// Started here, with room for a rebuild of dist/ (compiling blocks the test's own timer).
beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServer({
    NODE_ENV: 'production',
    DATABASE_URL: database.url,
    DATABASE_POOL_MIN: '0',
    JWT_PUBLIC_KEY: makeKeyPair().publicKey,
    STRIPE_SECRET_KEY: 'sk_test_deep_body',
    STRIPE_WEBHOOK_SECRET: 'whsec_deep_body',
    LOG_LEVEL: 'warn',
  });
}, 240_000);
afterAll(async () => {
  await server?.stop();
  await database.drop();
});

/** One raw request on its own connection: chunked, or with a Content-Length. */
function post(
  baseUrl: string,
  path: string,
  body: string,
  chunked: boolean,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers = {
      'Content-Type': 'application/json',
      ...(chunked ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': String(Buffer.byteLength(body)) }),
    };
    const req = http.request(`${baseUrl}${path}`, { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('no answer: did the server crash?')));
    if (chunked) for (let i = 0; i < body.length; i += 1024) req.write(body.slice(i, i + 1024));
    req.end(chunked ? undefined : body);
  });
}

describe('the production build under the body that used to end it', () => {
  it('answers a ~12 KB body nested 6,000 deep with 400 on any route, by length or chunked; keeps serving', async () => {
    if (!server) throw new Error('server not started');
    const deep = '['.repeat(6000) + ']'.repeat(6000);
    for (const path of ['/v1/credit-packages', '/no/such/route', '/v1/usage/reconcile']) {
      for (const chunked of [false, true]) {
        const res = await post(server.baseUrl, path, deep, chunked);
        expect([path, chunked, res.status, res.body.code]).toEqual([path, chunked, 400, 'json_too_deep']);
      }
    }
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
    expect(server.output()).not.toMatch(/RangeError|Maximum call stack/);
  });
});
