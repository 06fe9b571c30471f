import { responseMismatch } from '../helpers/openapi-responses';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { documentedRoutes, expressRoutes } from '../helpers/routes';
import { createTestApp, type TestApp } from '../helpers/test-app';

const ROOT = path.resolve(__dirname, '../..');
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };
interface Operation {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, unknown> }>;
}

let t: TestApp;
let doc: Doc;
beforeAll(async () => {
  t = await createTestApp();
  const res = await request(t.app).get('/openapi.json');
  expect(res.status).toBe(200);
  doc = res.body as Doc;
});
afterAll(() => t.close());

const operations = () =>
  Object.entries(doc.paths).flatMap(([p, item]) =>
    Object.entries(item).map(([method, op]) => ({ path: p, method, op })),
  );

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document that passes the Redocly recommended ruleset', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openapi-lint-'));
    const file = path.join(dir, 'openapi.json');
    fs.writeFileSync(file, JSON.stringify(doc));
    try {
      const run = await promisify(execFile)(
        path.join(ROOT, 'node_modules/.bin/redocly'),
        ['lint', '--config', path.join(ROOT, 'redocly.yaml'), '--format=json', file],
        {
          cwd: dir,
          env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
          maxBuffer: 10 * 1024 * 1024,
        },
      ).catch((e: { stdout: string; code: number }) => ({ stdout: e.stdout, code: e.code }));
      const problems = (
        JSON.parse(run.stdout) as {
          problems: Array<{ ruleId: string; severity: string; location: Array<{ pointer: string }> }>;
        }
      ).problems;
      // Justified: probes, the scrape endpoint and this document take no client input, so they have no 4xx to document.
      const justified = (p: (typeof problems)[number]) =>
        p.ruleId === 'operation-4xx-response' &&
        /^#\/paths\/~1(healthz|readyz|metrics|openapi\.json)\//.test(p.location[0].pointer);
      expect(
        problems.filter((p) => !justified(p)).map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}`),
      ).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('documents every route the app serves, and serves every documented route', () => {
    const served = expressRoutes(t.app);
    expect(served.length).toBeGreaterThan(5);
    expect(served).toEqual(documentedRoutes(doc));
  });

  it('documents the problem responses the edge can give on each route, as application/problem+json', () => {
    for (const { path: p, method, op } of operations()) {
      const statuses = Object.keys(op.responses);
      const where = `${method.toUpperCase()} ${p}`;
      expect([where, statuses.includes('500')]).toEqual([where, true]);
      expect([where, typeof op.operationId]).toEqual([where, 'string']);
      if (p.startsWith('/v1/') && p !== '/v1/webhooks/stripe')
        expect([where, statuses.includes('429')]).toEqual([where, true]);
      if (op.requestBody)
        expect([where, ['400', '413', '415'].every((s) => statuses.includes(s))]).toEqual([where, true]);
      if (op.security?.some((s) => 'bearer' in s)) expect([where, statuses.includes('401')]).toEqual([where, true]);
      for (const status of statuses.filter((s) => Number(s) >= 400 && !(p === '/readyz' && s === '503'))) {
        expect([where, status, Object.keys(op.responses[status].content ?? {})]).toEqual([
          where,
          status,
          ['application/problem+json'],
        ]);
      }
    }
  });
});

describe('the suite-wide check of answers against /openapi.json (test/helpers/openapi-responses.ts)', () => {
  it('names an answer whose body or status the document does not describe, and passes one it does', () => {
    const card = {
      model: 'gpt-4o',
      inputUsdPer1M: '2.5',
      outputUsdPer1M: '10',
      cachedInputUsdPer1M: null,
      markup: '4',
      effectiveFrom: '2026-01-01T00:00:00.000Z',
    };
    expect(responseMismatch('GET', '/v1/rate-cards', 200, 'application/json', { data: [card] })).toBeUndefined();
    expect(
      responseMismatch('GET', '/v1/rate-cards', 200, 'application/json', { data: [{ ...card, markup: 4 }] }),
    ).toMatch(/^GET \/v1\/rate-cards 200: \/data\/0\/markup must be string/);
    expect(responseMismatch('GET', '/v1/rate-cards?x=1', 418, 'application/json', {})).toBe(
      'GET /v1/rate-cards 418: status 418 is not documented',
    );
    expect(responseMismatch('GET', '/v1/credits/purchases/abc', 404, 'application/problem+json', { title: 1 })).toMatch(
      /^GET \/v1\/credits\/purchases\/\{purchaseId\} 404: /,
    );
  });
});
