/**
 * Decodes application/x-www-form-urlencoded bodies and query strings the way Stripe reads what
 * its SDK sends: `line_items[0][price_data][currency]=usd`, `metadata[purchaseId]=…`,
 * `created[gte]=…`. Numeric keys become arrays.
 */
export type FormValue = string | FormValue[] | { [key: string]: FormValue };

export function decodeForm(text: string): Record<string, FormValue> {
  const root: Record<string, FormValue> = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const [head, ...rest] = rawKey.split('[');
    const path = [head, ...rest.map((p) => p.replace(/\]$/, ''))];
    let node: Record<string, FormValue> = root;
    path.forEach((key, i) => {
      if (i === path.length - 1) {
        node[key] = value;
        return;
      }
      const nextIsIndex = /^\d+$/.test(path[i + 1]);
      if (node[key] === undefined || typeof node[key] === 'string') node[key] = nextIsIndex ? [] : {};
      node = node[key] as unknown as Record<string, FormValue>;
    });
  }
  return root;
}
