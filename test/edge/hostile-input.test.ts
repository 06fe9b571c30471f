import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { registry } from '../../src/platform/openapi/registry';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { grant } from '../helpers/wallets';

let t: TestApp;
beforeAll(async () => {
  // Stripe points at a closed local port: routes that call it meet an upstream outage, deterministically and offline.
  t = await createTestApp({
    env: {
      RATE_LIMIT_PER_MINUTE: '1000000',
      SERVICE_RATE_LIMIT_PER_MINUTE: '1000000',
      STRIPE_SECRET_KEY: 'sk_test_fuzz',
      STRIPE_WEBHOOK_SECRET: 'whsec_fuzz',
      STRIPE_API_BASE_URL: 'http://127.0.0.1:9',
    },
  });
  await grant(t, 'fuzz-user', '1000');
});
afterAll(() => t.close());

/** Every documented route (the same table the 405 handler uses), plus the space around it. */
const routes = () =>
  registry.definitions.flatMap((d) =>
    d.type === 'route' ? [{ method: d.route.method.toUpperCase(), path: d.route.path }] : [],
  );

const printable = (max: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });
const nasty = fc.constantFrom(
  "' OR 1=1 --",
  '"; DROP TABLE accounts; --',
  '../../etc/passwd',
  '%00',
  '%E0%A4%A',
  '%',
  '__proto__',
  'constructor',
  '{{7*7}}',
  '${jndi:ldap://x}',
  '1e400',
  '-0',
  'NaN',
  '0x10',
  '９',
  '\u202e',
  '𝕏',
  'a'.repeat(300),
  '=cmd|calc!A1',
  '<script>alert(1)</script>',
);
const text = fc.oneof(printable(40), nasty, fc.string({ maxLength: 20 }));
const FIELDS = [
  'userId',
  'requestId',
  'model',
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'metadata',
  'amount',
  'reason',
  'allowNegative',
  'packageId',
  'maxInputTokens',
  'maxOutputTokens',
  'ttlSeconds',
  '__proto__',
  'constructor',
];
const value = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  text,
  fc.constantFrom(1e308, -1, 2 ** 53 + 1, 1_000_000_001, 0.5, '50', '-50', '1e3', null, true, []),
);

// Valid bodies with one field replaced or removed reach the validators and the money paths behind them.
const TEMPLATES: Array<Record<string, unknown>> = [
  { userId: 'fuzz-user', requestId: 'fuzz-r', model: 'gpt-4o', inputTokens: 10, outputTokens: 10 },
  { userId: 'fuzz-user', requestId: 'fuzz-h', model: 'gpt-4o-mini', maxInputTokens: 10, maxOutputTokens: 10 },
  { userId: 'fuzz-user', amount: '1', reason: 'fuzz' },
  { packageId: 'starter' },
];
const mutation = fc.record({
  key: fc.constantFrom(...FIELDS),
  val: value,
  op: fc.constantFrom('keep', 'drop', 'set'),
  requestId: printable(12),
});
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;
function mutate(base: Record<string, unknown>, { key, val, op, requestId }: Mutation): string {
  const o: Record<string, unknown> = { ...base, ...('requestId' in base ? { requestId: `fuzz-${requestId}` } : {}) };
  if (op === 'drop') delete o[key];
  if (op === 'set') o[key] = val;
  return JSON.stringify(o);
}
const mutated = fc.tuple(fc.constantFrom(...TEMPLATES), mutation).map(([base, m]) => mutate(base, m));
/** The template and caller a route expects, for the scenarios that play by the rules but one field. */
const templateFor = (path: string) =>
  path.startsWith('/v1/usage/holds')
    ? TEMPLATES[1]
    : path.startsWith('/v1/usage')
      ? TEMPLATES[0]
      : path.startsWith('/v1/admin')
        ? TEMPLATES[2]
        : TEMPLATES[3];

const body = fc.oneof(
  fc.constant(undefined),
  { arbitrary: mutated, weight: 4 },
  fc
    .dictionary(fc.oneof(fc.constantFrom(...FIELDS), printable(12)), value, { maxKeys: 8 })
    .map((o) => JSON.stringify(o)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.oneof(text, fc.constantFrom('{', '{"a":', '[1,2', 'null', '"x"', '{"userId": "u"}}', '\u0000', '{"a":1e99999}')),
  fc.constant(`{"deep":${'['.repeat(3000)}${']'.repeat(3000)}}`),
);

function tokens() {
  const { privateKey, publicKey } = t.keys;
  const now = Math.floor(Date.now() / 1000);
  const token = fc.oneof(
    fc.constant(undefined),
    { arbitrary: fc.constantFrom(t.token('fuzz-user'), t.gateway, t.admin), weight: 4 },
    fc.constantFrom(
      t.token('fuzz-user'),
      t.gateway,
      t.admin,
      t.token('fuzz-user', { expiresIn: -10 }),
      t.token('fuzz-user', { noExp: true }),
      t.token('x'.repeat(300)),
    ),
    // alg confusion: HS256 keyed with the public key, and alg "none".
    fc.constant(jwt.sign({ sub: 'fuzz-user', exp: now + 60 }, publicKey, { algorithm: 'HS256' })),
    fc.constant(
      `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.` +
        `${Buffer.from(`{"sub":"fuzz-user","exp":${now + 60}}`).toString('base64url')}.`,
    ),
    fc.constant(
      jwt
        .sign({ sub: 'fuzz-user', exp: now + 60, scope: 'billing:admin usage:write' }, privateKey, {
          algorithm: 'RS256',
          keyid: '../../etc/passwd',
        })
        .replace(/.$/, 'A'),
    ),
    printable(60),
  );
  const scheme = fc.constantFrom('Bearer ', 'Bearer ', 'Bearer ', 'Bearer ', 'bearer ', '', 'Basic ', 'Bearer  ');
  return fc.tuple(token, scheme).map(([tk, sc]) => (tk === undefined ? undefined : `${sc}${tk}`));
}

const segment = fc.oneof(fc.uuid(), text.map(encodeURIComponent), nasty);
const query = fc.dictionary(
  fc.oneof(
    fc.constantFrom('userId', 'limit', 'cursor', 'from', 'to', 'groupBy', 'userId[]', '__proto__[x]'),
    printable(8),
  ),
  text,
  { maxKeys: 5 },
);

/** Routes that call Stripe may answer an upstream outage with 502/503/504 (still a problem response), never 500. */
const CALLS_STRIPE = new Set(['/v1/credits/purchase', '/v1/admin/reports/revenue', '/v1/billing/payment-method']);
const acceptableStatus = (path: string, status: number) =>
  status < 500 || (CALLS_STRIPE.has(path) && [502, 503, 504].includes(status));

const LEAKS = [
  /\n\s+at [^\n]*\(/,
  /\bat [\w.<>]+ \([^)]*:\d+:\d+\)/,
  /node_modules/,
  /prisma/i,
  /\bSELECT\b/,
  /\bINSERT INTO\b/,
  /\.ts:\d+/,
  /postgres(ql)?:\/\//,
  /BEGIN (RSA )?P(RIVATE|UBLIC) KEY/,
];

describe('hostile input on every route', () => {
  it('no 5xx of its own (Stripe routes: 502-504), no stack, SQL or key leaked; problems carry ids', async () => {
    const all = routes();
    const seen = new Map<number, number>();
    expect(all.length).toBeGreaterThan(5);
    const headerValue = fc.option(printable(80), { nil: undefined });
    const scenario = fc.record({
      route: fc.constantFrom(...all),
      method: fc.oneof(
        { arbitrary: fc.constant(undefined), weight: 6 },
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
      ),
      params: fc.array(segment, { minLength: 4, maxLength: 4 }),
      suffix: fc.oneof(
        { arbitrary: fc.constant(undefined), weight: 6 },
        fc.constantFrom('/', '//', '/extra', '.json', '%2F..', '?'),
      ),
      query,
      authorization: tokens(),
      contentType: fc.oneof(
        { arbitrary: fc.constant('application/json'), weight: 5 },
        fc.constantFrom(
          'application/json',
          'application/json; charset=utf-16',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/merge-patch+json',
          'application/json; charset=latin1',
        ),
        fc.constant(undefined),
      ),
      body,
      idempotencyKey: headerValue,
      correlationId: headerValue,
      accept: fc.option(fc.constantFrom('text/csv', 'application/xml', '*/*', 'text/html;q=0.1'), { nil: undefined }),
      stripeSignature: headerValue,
      coherent: fc.option(mutation, { nil: undefined, freq: 2 }),
    });

    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        let i = 0;
        const path = s.route.path.replace(/\{[^}]+\}/g, () => s.params[i++]) + (s.suffix ?? '');
        const qs = Object.entries(s.query)
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
          .join('&');
        if (s.coherent) {
          const p = s.route.path;
          const bearer = p.startsWith('/v1/usage') ? t.gateway : p.startsWith('/v1/admin') ? t.admin : undefined;
          s.authorization = `Bearer ${bearer ?? t.token('fuzz-user')}`;
          s.contentType = 'application/json';
          s.method = undefined;
          s.body = mutate(templateFor(p), s.coherent);
          s.idempotencyKey = `fuzz-${s.coherent.requestId}`;
        }
        const method = s.method ?? s.route.method;
        const req = request(t.app)[method.toLowerCase() as 'get'](qs ? `${path}?${qs}` : path);
        const headers: Record<string, string | undefined> = {
          Authorization: s.authorization,
          'Content-Type': s.contentType,
          'Idempotency-Key': s.idempotencyKey,
          'X-Correlation-Id': s.correlationId,
          Accept: s.accept,
          'Stripe-Signature': s.stripeSignature,
        };
        for (const [name, v] of Object.entries(headers)) if (v !== undefined) req.set(name, v);
        const res = await (s.body !== undefined && method !== 'GET' ? req.send(s.body) : req);

        const where = `${method} ${path} → ${res.status}`;
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect([where, acceptableStatus(s.route.path, res.status)]).toEqual([where, true]);
        for (const leak of LEAKS) expect([where, leak.test(res.text ?? '')]).toEqual([where, false]);
        if (res.status >= 400) {
          expect([where, res.headers['content-type']]).toEqual([
            where,
            expect.stringMatching(/^application\/problem\+json/),
          ]);
          expect([where, res.body.correlationId]).toEqual([where, res.headers['x-correlation-id']]);
          expect(res.body.status).toBe(res.status);
        }
      }),
      { numRuns: 400, seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined },
    );
    // The generator reached past the edge: authenticated, validated and successful calls all happened.
    expect([...seen.keys()]).toEqual(expect.arrayContaining([200, 201, 400, 401, 404, 415]));
    if (process.env.FC_VERBOSE) console.log(Object.fromEntries(seen));
  });
});

/**
 * Bodies built as text, since JSON.stringify itself cannot write 100,000 levels. Each is invalid by
 * construction (too deep, too large, unstorable, ambiguous or out of range), so every answer must be a
 * 4xx, from the one server that keeps answering between them.
 */
describe('hostile bodies on every documented route', () => {
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    server = t.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const ID_FIELDS = ['userId', 'requestId', 'model', 'packageId', 'reason', 'amount'];
  const NUMERIC_FIELDS = ['inputTokens', 'outputTokens', 'maxInputTokens', 'maxOutputTokens', 'ttlSeconds'];
  /** A template's JSON text with `field` set to raw JSON text (replacing the template's own value). */
  const withField = (base: Record<string, unknown>, field: string, raw: string) => {
    const { [field]: _dropped, ...rest } = base;
    const text = JSON.stringify(rest);
    return `${text.slice(0, -1)}${text.length > 2 ? ',' : ''}${JSON.stringify(field)}:${raw}}`;
  };

  const depth = fc.oneof(
    fc.integer({ min: 10, max: 40 }),
    fc.integer({ min: 41, max: 6000 }),
    fc.integer({ min: 6001, max: 100_000 }),
  );
  const nested = fc.record({ depth, kind: fc.constantFrom('arrays', 'objects', 'mixed') }).map(({ depth: d, kind }) => {
    if (kind === 'arrays') return { d, text: '['.repeat(d) + ']'.repeat(d) };
    if (kind === 'objects') return { d, text: '{"a":'.repeat(d) + '1' + '}'.repeat(d) };
    const half = Math.ceil(d / 2);
    return { d: half * 2, text: '[{"a":'.repeat(half) + '1' + '}]'.repeat(half) };
  });
  const field = fc.constantFrom(...FIELDS.filter((f) => !f.startsWith('_') && f !== 'constructor'));
  const template = fc.constantFrom(...TEMPLATES);
  const BAD_CHARS = ['\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\udbff', '\udc00y'];

  const hostile = fc.oneof(
    // deep nesting as the whole body, or (beyond the limit) as any field's value
    nested.map(({ d, text }) => ({ kind: `nested ${d} as the body`, text })),
    fc.tuple(nested, template, field).map(([{ d, text }, b, f]) => ({
      kind: `nested ${Math.max(d, 33)} in ${f}`,
      text: withField(b, f, d > 32 ? text : '['.repeat(33 - d) + text + ']'.repeat(33 - d)),
    })),
    // huge arrays: the whole body, or an id's value
    fc
      .integer({ min: 1000, max: 100_000 })
      .map((n) => ({ kind: `array of ${n} as the body`, text: `[${Array(n).fill('0').join(',')}]` })),
    fc.tuple(fc.integer({ min: 1000, max: 100_000 }), template, fc.constantFrom(...ID_FIELDS)).map(([n, b, f]) => ({
      kind: `array of ${n} in ${f}`,
      text: withField(b, f, `[${Array(n).fill('"x"').join(',')}]`),
    })),
    // long strings in ids
    fc
      .tuple(fc.integer({ min: 501, max: 200_000 }), template, fc.constantFrom(...ID_FIELDS))
      .map(([n, b, f]) => ({ kind: `string of ${n} in ${f}`, text: withField(b, f, JSON.stringify('x'.repeat(n))) })),
    // NUL and lone surrogates anywhere: an id, a metadata value, a metadata key
    fc.tuple(template, fc.constantFrom(...BAD_CHARS), fc.constantFrom('id', 'value', 'key')).map(([b, bad, where]) => ({
      kind: `${JSON.stringify(bad)} as ${where}`,
      text:
        where === 'id'
          ? withField(b, Object.keys(b)[0], JSON.stringify(bad))
          : withField(b, 'metadata', JSON.stringify(where === 'key' ? { [bad]: 1 } : { a: [bad] })),
    })),
    // duplicate keys: one of the template's own, or inside metadata
    fc.tuple(template, fc.boolean()).map(([b, nestedDup]) => {
      const key = Object.keys(b)[0];
      return {
        kind: `duplicate ${nestedDup ? 'metadata.a' : key}`,
        text: nestedDup
          ? withField(b, 'metadata', '{"a":1,"a":1}')
          : withField(b, key, JSON.stringify(b[key])).replace(
              /}$/,
              `,${JSON.stringify(key)}:${JSON.stringify(b[key])}}`,
            ),
      };
    }),
    // numbers beyond a double
    fc
      .tuple(
        template,
        fc.constantFrom('1e400', '-1e400', '1E+400', '123456789e999'),
        fc.constantFrom(...NUMERIC_FIELDS, 'metadata'),
      )
      .map(([b, n, f]) => ({
        kind: `${n} in ${f}`,
        text: withField(b, f, f === 'metadata' ? `{"n":${n}}` : n),
      })),
  );

  const tokenFor = (path: string) =>
    path.startsWith('/v1/usage') ? t.gateway : path.startsWith('/v1/admin') ? t.admin : t.token('fuzz-user');

  it('answers every one with a 4xx problem, and the same server answers /healthz after each', async () => {
    const all = routes();
    const deepest = { tried: 0 };
    const outcomes = new Map<string, number>();
    const scenario = fc.record({
      route: fc.constantFrom(...all),
      body: hostile,
      authorized: fc.boolean(),
      idempotencyKey: fc.option(
        printable(20).filter((k) => k.length > 0),
        { nil: undefined },
      ),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const path = s.route.path.replace(/\{[^}]+\}/g, 'fuzz-x');
        // POST whatever the route's method: a GET would never read the body
        const req = request(base).post(path).set('Content-Type', 'application/json');
        if (s.authorized) req.set('Authorization', `Bearer ${tokenFor(path)}`);
        if (s.idempotencyKey) req.set('Idempotency-Key', s.idempotencyKey);
        const res = await req.send(s.body.text);
        const where = `POST ${path} with ${s.body.kind} → ${res.status} ${res.body?.code ?? ''}`;
        const label = `${s.body.kind.replace(/\d+/g, 'N').replace(/ in \w+$/, ' in a field')} → ${res.status}`;
        outcomes.set(label, (outcomes.get(label) ?? 0) + 1);
        const d = /^nested (\d+)/.exec(s.body.kind);
        if (d) deepest.tried = Math.max(deepest.tried, Number(d[1]));
        expect([where, res.status >= 400 && res.status < 500]).toEqual([where, true]);
        expect([where, res.headers['content-type']]).toEqual([
          where,
          expect.stringMatching(/^application\/problem\+json/),
        ]);
        expect([where, res.body.correlationId]).toEqual([where, res.headers['x-correlation-id']]);
        expect([where, (await request(base).get('/healthz')).status]).toEqual([where, 200]);
      }),
      { numRuns: 300, seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined },
    );
    expect(deepest.tried).toBeGreaterThan(6000);
    if (process.env.FC_VERBOSE)
      console.log(`deepest nesting tried: ${deepest.tried}`, Object.fromEntries([...outcomes].sort()));
  });
});
