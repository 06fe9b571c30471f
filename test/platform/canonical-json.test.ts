import fc from 'fast-check';
import { canonicalJson } from '../../src/platform/payload-hash';

/** The recursive definition the stored fingerprints were made with: the iterative one must match it exactly. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

describe('canonical JSON of an idempotent payload', () => {
  it('is the same text the recursive definition gave, for any JSON value (so stored fingerprints still match)', () => {
    const payload = fc.oneof(
      fc.jsonValue({ maxDepth: 6 }),
      fc.record({
        method: fc.constant('POST'),
        path: fc.string(),
        body: fc.dictionary(fc.string(), fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined })),
      }),
    );
    fc.assert(
      fc.property(payload, (value) => canonicalJson(value) === reference(value)),
      { numRuns: 2000 },
    );
  });

  it('orders keys and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: [true, null, { d: undefined, c: 'x' }] })).toBe(
      '{"a":[true,null,{"c":"x"}],"b":1}',
    );
  });

  it('writes values nested 100,000 deep without overflowing the stack', () => {
    let deep: unknown = 1;
    let expected = '1';
    for (let i = 0; i < 100_000; i++) {
      deep = i % 2 ? [deep] : { k: deep };
      expected = i % 2 ? `[${expected}]` : `{"k":${expected}}`;
    }
    expect(canonicalJson(deep)).toBe(expected);
    expect(() => reference(deep)).toThrow(RangeError);
  });
});
