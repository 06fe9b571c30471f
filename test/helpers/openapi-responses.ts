import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import supertest from 'supertest';

/**
 * Every JSON answer a test receives through supertest is checked against the OpenAPI document the
 * service serves at /openapi.json (frontend teams generate clients from it): its status must be
 * documented for that operation and its body must match that status's schema. Mismatches fail the
 * test file in an afterAll, each named by method, path and status. Loaded for every file by jest.config.ts.
 */
type Doc = {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
  >;
};

let doc: Doc | undefined;
let ajv: Ajv2020 | undefined;
const validators = new Map<string, ValidateFunction>();

function loadDocument(): Doc {
  if (!doc) {
    // The routes register their schemas when the app's modules load: loaded on the first answer only.
    /* eslint-disable @typescript-eslint/no-require-imports */
    require('../../src/app');
    doc = require('../../src/platform/openapi/document').openApiDocument() as Doc;
    /* eslint-enable @typescript-eslint/no-require-imports */
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ ...doc, $id: 'openapi.json' });
  }
  return doc;
}

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

function findPath(paths: Doc['paths'], actual: string): string | undefined {
  if (paths[actual]) return actual;
  return Object.keys(paths).find((template) => {
    const re = new RegExp('^' + template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$');
    return re.test(actual);
  });
}

/** Why this answer differs from the document, or undefined when it matches (or is not JSON). */
export function responseMismatch(
  method: string,
  url: string,
  status: number,
  contentType: string | undefined,
  body: unknown,
): string | undefined {
  const mediaType = (contentType ?? '').split(';')[0].trim();
  if (!/^application\/(.+\+)?json$/.test(mediaType) || method === 'HEAD' || method === 'OPTIONS') return undefined;
  const paths = loadDocument().paths;
  const path = findPath(paths, new URL(url, 'http://x').pathname);
  const operation = path && paths[path][method.toLowerCase()];
  if (!path || !operation) return undefined; // unrouted paths answer 404/405 problems, checked in test/edge
  const name = `${method} ${path} ${status}`;
  const response = operation.responses[String(status)];
  if (!response) return `${name}: status ${status} is not documented`;
  if (!response.content?.[mediaType]) return `${name}: ${mediaType} is not documented for this status`;
  const key = pointer(path, method.toLowerCase(), 'responses', String(status), 'content', mediaType, 'schema');
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv!.compile({ $ref: `openapi.json#/paths/${key}` });
    validators.set(key, validate);
  }
  if (validate(body)) return undefined;
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
  return `${name}: ${errors} in ${JSON.stringify(body).slice(0, 300)}`;
}

const mismatches: string[] = [];
const Test = (
  supertest as unknown as { Test: { prototype: { end(fn?: (err: unknown, res: unknown) => void): unknown } } }
).Test;
const patched = Test.prototype as {
  end(fn?: (err: unknown, res: unknown) => void): unknown;
  __openapiChecked?: boolean;
};
if (!patched.__openapiChecked) {
  patched.__openapiChecked = true;
  const end = patched.end;
  patched.end = function (this: { method: string; url: string }, fn?: (err: unknown, res: unknown) => void) {
    return end.call(this, (err: unknown, res: unknown) => {
      const r = res as { status?: number; headers?: Record<string, string>; body?: unknown } | undefined;
      if (r?.status) {
        const m = responseMismatch(this.method, this.url, r.status, r.headers?.['content-type'], r.body);
        if (m) mismatches.push(m);
      }
      fn?.(err, res);
    });
  };
}

afterAll(() => {
  const found = [...new Set(mismatches.splice(0))];
  if (found.length) throw new Error(`answers that differ from /openapi.json:\n${found.join('\n')}`);
});
