/**
 * Checks of a JSON body's shape that JSON.parse does not make, each a loop with its own counters
 * or stack, never recursion: a caller controls the nesting, and a recursive walk 5,000 levels deep
 * overflows the call stack (a RangeError that, thrown in a stream's 'end' handler, ends the process).
 */

/** Objects and arrays nest at most this deep in a request body; the API's own bodies use 3. */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/**
 * Reads UTF-8 JSON text once, before it is parsed: the members it declares (one `:` outside a string
 * per member), or -1 when objects and arrays nest deeper than `maxDepth`. Bytes of multi-byte
 * characters are never ASCII, so structure is read from the bytes alone. Text that is not JSON gives
 * a meaningless count; JSON.parse refuses it next.
 */
export function scanJson(bytes: Uint8Array, maxDepth = MAX_JSON_DEPTH): number {
  let depth = 0;
  let members = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
      if (++depth > maxDepth) return -1;
    } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) depth--;
    else if (b === COLON) members++;
  }
  return members;
}

export type Flaw = { kind: 'unstorable' | 'not_finite'; field: string } | { kind: 'duplicate_key'; field: 'body' };

// PostgreSQL cannot store U+0000, and turns a lone surrogate into U+FFFD, which would let two
// different ids ("s\ud800", "s\udbff") become one. Refused anywhere in a body.
const unstorable = (s: string) => s.includes('\u0000') || !s.isWellFormed();

interface Frame {
  value: object;
  path: string;
}

const child = (path: string, key: string) => (path === 'body' ? key : `${path}.${key}`);

/**
 * The first value of a parsed body that cannot be stored as sent: a string with NUL or a lone
 * surrogate (in a key or a value), or a number beyond a double's range (`1e400` parses as Infinity,
 * which JSON cannot write back). With `members` from scanJson, also a key repeated within one
 * object: JSON.parse keeps the last silently, so a proxy that reads the first would see another
 * request than this service (I-JSON, RFC 7493 §2.3, forbids them).
 */
export function findFlaw(body: unknown, members: number): Flaw | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const stack: Frame[] = [{ value: body, path: 'body' }];
  let seen = 0;
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    const isArray = Array.isArray(value);
    for (const key of Object.keys(value)) {
      if (!isArray) {
        seen++;
        if (unstorable(key)) return { kind: 'unstorable', field: path };
      }
      const v = (value as Record<string, unknown>)[key];
      if (typeof v === 'string') {
        if (unstorable(v)) return { kind: 'unstorable', field: child(path, key) };
      } else if (typeof v === 'number') {
        if (!Number.isFinite(v)) return { kind: 'not_finite', field: child(path, key) };
      } else if (v !== null && typeof v === 'object') {
        stack.push({ value: v, path: child(path, key) });
      }
    }
  }
  return seen === members ? undefined : { kind: 'duplicate_key', field: 'body' };
}
