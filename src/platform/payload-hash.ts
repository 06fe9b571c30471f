import { createHash } from 'node:crypto';

// What makes two requests "the same": the idempotency middleware and the usage and hold services
// store this hash so a retried request replays and a changed one is a mismatch.

/** A piece of output text on canonicalJson's stack, told apart from the values still to be written. */
class Text {
  constructor(readonly text: string) {}
}
const [OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT, COMMA] = ['[', ']', '{', '}', ','].map((t) => new Text(t));

/**
 * Stable JSON: the same payload hashes the same whatever the order of its keys. Written with a stack
 * of its own rather than recursion, so no nesting a caller sends can overflow the call stack. The
 * output is the stored fingerprint of every idempotent request: it must never change.
 */
export function canonicalJson(value: unknown): string {
  let out = '';
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (item instanceof Text) {
      out += item.text;
    } else if (Array.isArray(item)) {
      stack.push(CLOSE_ARRAY);
      for (let i = item.length - 1; i >= 0; i--) {
        stack.push(item[i]);
        if (i > 0) stack.push(COMMA);
      }
      stack.push(OPEN_ARRAY);
    } else if (item && typeof item === 'object') {
      const entries = Object.entries(item as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1));
      stack.push(CLOSE_OBJECT);
      for (let i = entries.length - 1; i >= 0; i--) {
        stack.push(entries[i][1], new Text(`${i > 0 ? ',' : ''}${JSON.stringify(entries[i][0])}:`));
      }
      stack.push(OPEN_OBJECT);
    } else {
      out += JSON.stringify(item ?? null);
    }
  }
  return out;
}

export const payloadHash = (value: unknown) => createHash('sha256').update(canonicalJson(value)).digest('hex');
