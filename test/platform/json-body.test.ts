import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { MAX_JSON_DEPTH } from '../../src/platform/http/json-shape';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { grant } from '../helpers/wallets';

let t: TestApp;
let server: http.Server;
let port: number;
beforeAll(async () => {
  t = await createTestApp();
  await grant(t, 'deep-user', '1000');
  // One listening server for the whole file: a crash of it fails every later request.
  server = t.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** A raw request: chunked when no Content-Length is wanted, so both ways of framing a body are covered. */
function send(
  method: string,
  path: string,
  body: string | Buffer,
  o: { headers?: Record<string, string>; chunked?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const headers = {
      'Content-Type': 'application/json',
      ...(o.chunked ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': String(bytes.length) }),
      ...o.headers,
    };
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('no answer: did the server crash?')));
    if (o.chunked) for (let i = 0; i < bytes.length; i += 4096) req.write(bytes.subarray(i, i + 4096));
    req.end(o.chunked ? undefined : bytes);
  });
}
const healthy = async () => (await send('GET', '/healthz', '', { headers: { 'Content-Length': '0' } })).status;

const arrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const objects = (depth: number, leaf = '1') => '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
const gateway = () => ({ Authorization: `Bearer ${t.gateway}` });
const charge = (requestId: string, metadata: string) =>
  `{"userId":"deep-user","requestId":"${requestId}","model":"gpt-4o",` +
  `"inputTokens":1000,"outputTokens":500,"metadata":${metadata}}`;

describe('JSON nesting is bounded', () => {
  it.each([
    ['POST /v1/credit-packages', 'POST', '/v1/credit-packages', false],
    ['an unknown route', 'POST', '/no/such/route', false],
    ['an unauthenticated reconcile', 'POST', '/v1/usage/reconcile', false],
    ['an unauthenticated reconcile, chunked', 'POST', '/v1/usage/reconcile', true],
    ['PUT on an admin route, chunked', 'PUT', '/v1/admin/credits/adjustments', true],
  ])(
    'a ~12 KB body nested 6,000 deep sent to %s answers 400 naming the limit, and the server stays up',
    async (_name, method, path, chunked) => {
      const res = await send(method, path, arrays(6000), { chunked });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'json_too_deep', maxDepth: MAX_JSON_DEPTH, status: 400 });
      expect(String(res.body.detail)).toContain(String(MAX_JSON_DEPTH));
      expect(await healthy()).toBe(200);
    },
  );

  it('objects nested 10,000 deep and 30,000 arrays (64 KB, the body limit) are refused the same way', async () => {
    expect((await send('POST', '/v1/usage/reconcile', objects(10_000), { headers: gateway() })).body.code).toBe(
      'json_too_deep',
    );
    expect((await send('POST', '/v1/usage/reconcile', arrays(30_000), { headers: gateway() })).body.code).toBe(
      'json_too_deep',
    );
    expect((await send('POST', '/v1/usage/reconcile', arrays(40_000), { headers: gateway() })).status).toBe(413);
    expect(await healthy()).toBe(200);
  });

  it(`charges metadata nesting to exactly ${MAX_JSON_DEPTH} levels with the body, refuses one level more`, async () => {
    // The body object is level 1, so metadata may nest MAX_JSON_DEPTH - 1 levels.
    const atLimit = await send('POST', '/v1/usage/reconcile', charge('deep-ok', objects(MAX_JSON_DEPTH - 2, '{}')), {
      headers: gateway(),
    });
    expect(atLimit.status).toBe(201);
    const beyond = await send('POST', '/v1/usage/reconcile', charge('deep-no', objects(MAX_JSON_DEPTH - 1, '{}')), {
      headers: gateway(),
    });
    expect(beyond.status).toBe(400);
    expect(beyond.body.code).toBe('json_too_deep');
    const [{ n }] = await t.database.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM usages WHERE request_id = 'deep-no'`,
    );
    expect(n).toBe(0);
  });

  it('metadata nested 5,000 deep with an Idempotency-Key is a 400, not a 500 from the fingerprint', async () => {
    const res = await send('POST', '/v1/usage/reconcile', charge('deep-idem', objects(5000)), {
      headers: { ...gateway(), 'Idempotency-Key': 'deep-idem' },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('json_too_deep');
  });

  it('brackets inside strings do not count as nesting', async () => {
    const res = await send(
      'POST',
      '/v1/usage/reconcile',
      charge('deep-string', JSON.stringify({ note: arrays(5000), quote: '"[{\\' })),
      { headers: gateway() },
    );
    expect(res.status).toBe(201);
  });
});

describe('what JSON.parse lets through is refused', () => {
  it('a key given twice in one object is a 400, whichever value comes last', async () => {
    const twice =
      '{"userId":"deep-user","requestId":"dup","model":"gpt-4o",' +
      '"inputTokens":1,"outputTokens":1,"userId":"someone-else"}';
    const res = await send('POST', '/v1/usage/reconcile', twice, { headers: gateway() });
    expect(res.status).toBe(400);
    expect(res.body.detail).toBe('The body repeats a key within one object');
    const nested = await send('POST', '/v1/usage/reconcile', charge('dup-nested', '{"a":{"b":1,"b":2}}'), {
      headers: gateway(),
    });
    expect(nested.status).toBe(400);
  });

  it('1e400 (Infinity once parsed) is a 400 naming the field', async () => {
    const res = await send('POST', '/v1/usage/reconcile', charge('inf', '{"x":[1e400]}'), { headers: gateway() });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'metadata.x.0', message: expect.stringContaining('finite') }]);
  });

  it('NUL and lone surrogates in keys or values, escaped or not, are a 400 naming where', async () => {
    const cases: [string, string][] = [
      [charge('nul', '{"a":"x\\u0000"}'), 'metadata.a'],
      [charge('lone', '{"a":["\\udc00"]}'), 'metadata.a.0'],
      [charge('key', '{"k\\ud800":1}'), 'metadata'],
    ];
    for (const [body, field] of cases) {
      const res = await send('POST', '/v1/usage/reconcile', body, { headers: gateway() });
      expect([field, res.status, (res.body.errors as { field: string }[])[0].field]).toEqual([field, 400, field]);
    }
  });
});

describe('what the parser keeps from body-parser', () => {
  it('reads gzip-compressed and chunked bodies, and counts the limit after decompression', async () => {
    const body = charge('gz', '{"via":"gzip"}');
    const zipped = await send('POST', '/v1/usage/reconcile', gzipSync(body), {
      headers: { ...gateway(), 'Content-Encoding': 'gzip' },
    });
    expect(zipped.status).toBe(201);
    const chunked = await send('POST', '/v1/usage/reconcile', charge('chunked', '{}'), {
      headers: gateway(),
      chunked: true,
    });
    expect(chunked.status).toBe(201);
    const bomb = gzipSync(`{"userId":"${'x'.repeat(200_000)}"}`);
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(
      (await send('POST', '/v1/usage/reconcile', bomb, { headers: { ...gateway(), 'Content-Encoding': 'gzip' } }))
        .status,
    ).toBe(413);
  });

  it('accepts a UTF-8 BOM and charset=utf-8; refuses other charsets and other media types with 415', async () => {
    expect(
      (await send('POST', '/v1/usage/reconcile', `\ufeff${charge('bom', '{}')}`, { headers: gateway() })).status,
    ).toBe(201);
    const utf8 = await send('POST', '/v1/usage/reconcile', charge('charset', '{}'), {
      headers: { ...gateway(), 'Content-Type': 'application/json; charset=UTF-8' },
    });
    expect(utf8.status).toBe(201);
    const utf16 = Buffer.from(charge('utf16', '{}'), 'utf16le');
    expect(
      (
        await send('POST', '/v1/usage/reconcile', utf16, {
          headers: { ...gateway(), 'Content-Type': 'application/json; charset=utf-16le' },
        })
      ).status,
    ).toBe(415);
    expect(
      (
        await send('POST', '/v1/usage/reconcile', 'userId=x', {
          headers: { ...gateway(), 'Content-Type': 'application/x-www-form-urlencoded' },
        })
      ).status,
    ).toBe(415);
  });

  it('refuses a scalar top level, broken JSON and an unsupported Content-Encoding', async () => {
    expect((await send('POST', '/v1/usage/reconcile', '"just a string"', { headers: gateway() })).status).toBe(400);
    expect((await send('POST', '/v1/usage/reconcile', '{"userId":', { headers: gateway() })).status).toBe(400);
    expect(
      (await send('POST', '/v1/usage/reconcile', '{}', { headers: { ...gateway(), 'Content-Encoding': 'x-unknown' } }))
        .status,
    ).toBe(415);
    expect(await healthy()).toBe(200);
  });
});
