import { createHash } from 'node:crypto';

// What makes two requests "the same": the idempotency middleware and the usage and hold services
// store this hash so a retried request replays and a changed one is a mismatch.

/** Stable JSON: the same payload hashes the same whatever the order of its keys. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export const payloadHash = (value: unknown) => createHash('sha256').update(canonicalJson(value)).digest('hex');
