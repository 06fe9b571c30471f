import type { FormValue } from './form-decode';

export interface Listed {
  id: string;
  created: number;
}

type Range = Partial<Record<'gt' | 'gte' | 'lt' | 'lte', string>>;

/**
 * Stripe list semantics: newest first, `limit` (1-100, default 10), cursor `starting_after`
 * (or `ending_before`), `created[gte|gt|lte|lt]` (or `created=<ts>`), and `has_more`.
 */
export function listPage<T extends Listed>(
  all: T[],
  query: Record<string, FormValue>,
  url: string,
  filter: (o: T) => boolean = () => true,
) {
  const limit = Math.min(100, Math.max(1, Number(query.limit ?? 10)));
  const created = query.created;
  const range: Range = typeof created === 'string' ? { gte: created, lte: created } : ((created ?? {}) as Range);
  const inRange = (o: T) =>
    (range.gte === undefined || o.created >= Number(range.gte)) &&
    (range.gt === undefined || o.created > Number(range.gt)) &&
    (range.lte === undefined || o.created <= Number(range.lte)) &&
    (range.lt === undefined || o.created < Number(range.lt));
  // Newest first; ties keep reverse insertion order, as Stripe's ids sort.
  const sorted = all
    .map((o, i) => ({ o, i }))
    .sort((a, b) => b.o.created - a.o.created || b.i - a.i)
    .map((x) => x.o);
  let rows = sorted.filter((o) => inRange(o) && filter(o));
  if (typeof query.starting_after === 'string') {
    const at = rows.findIndex((o) => o.id === query.starting_after);
    rows = at < 0 ? [] : rows.slice(at + 1);
  } else if (typeof query.ending_before === 'string') {
    const at = rows.findIndex((o) => o.id === query.ending_before);
    rows = at < 0 ? [] : rows.slice(Math.max(0, at - limit), at);
    return { object: 'list' as const, data: rows, has_more: at - limit > 0, url };
  }
  return { object: 'list' as const, data: rows.slice(0, limit), has_more: rows.length > limit, url };
}
