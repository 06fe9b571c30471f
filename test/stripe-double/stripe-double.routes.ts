import type { FormValue } from './form-decode';
import { listPage } from './list';
import { apiError, clone, noSuch, type Reply, type StripeObject } from './stripe-double.objects';
import type { StripeDoubleStore } from './stripe-double.store';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, FormValue>;
  body: Record<string, FormValue>;
  idempotencyKey: string | undefined;
  stripeVersion: string | undefined;
}

const ok = (body: unknown): Reply => ({ status: 200, body });
const unknownUrl = (r: RecordedRequest) => apiError(404, `Unrecognized request URL (${r.method}: ${r.path}).`);

/** Answers one API call from the store, then expands what `expand[]` asked for, as Stripe does. */
export function route(d: StripeDoubleStore, r: RecordedRequest, origin: string): Reply {
  const reply = answer(d, r, origin);
  const wanted = r.method === 'GET' ? r.query.expand : r.body.expand;
  const paths = (Array.isArray(wanted) ? wanted : wanted ? [wanted] : []).map(String);
  if (reply.status !== 200 || !paths.length) return reply;
  try {
    return ok(paths.reduce((body, p) => expand(d, body, p.split('.'), p), reply.body));
  } catch (e) {
    if (e instanceof NotExpandable) return apiError(400, e.message, 'invalid_request_error', { param: 'expand' });
    throw e;
  }
}

function answer(d: StripeDoubleStore, r: RecordedRequest, origin: string): Reply {
  const one = (list: StripeObject[], id: string, kind: string) => {
    const found = list.find((o) => o.id === id);
    return found ? ok(found) : noSuch(kind, id);
  };
  const q = r.query;
  const by = (field: 'payment_intent' | 'customer') => (o: StripeObject) =>
    (typeof q[field] !== 'string' || o[field] === q[field]) && (typeof q.status !== 'string' || o.status === q.status);
  const list = (all: StripeObject[], url: string, field: 'payment_intent' | 'customer') =>
    ok(listPage(all, q, url, by(field)));
  const [, v1, a, b, c, extra] = r.path.split('/');
  if (v1 !== 'v1' || extra !== undefined) return unknownUrl(r);
  if (r.method === 'POST' && !c) {
    if (a === 'checkout' && b === 'sessions') return createSession(d, r.body, origin);
    if (a === 'customers' && !b) return ok(d.createCustomer(r.body));
    if (a === 'payment_intents' && !b) return d.createPaymentIntent(r.body, r.idempotencyKey);
  }
  if (r.method !== 'GET') return unknownUrl(r);
  if (a === 'checkout' && b === 'sessions')
    return c ? one(d.sessions, c, 'checkout.session') : list(d.sessions, '/v1/checkout/sessions', 'payment_intent');
  if (c && !(a === 'customers' && c === 'payment_methods')) return unknownUrl(r);
  if (a === 'charges') return b ? one(d.charges, b, 'charge') : list(d.charges, '/v1/charges', 'payment_intent');
  if (a === 'refunds') return b ? one(d.refunds, b, 'refund') : list(d.refunds, '/v1/refunds', 'payment_intent');
  if (a === 'disputes') return b ? one(d.disputes, b, 'dispute') : list(d.disputes, '/v1/disputes', 'payment_intent');
  if (a === 'payment_intents')
    return b ? one(d.paymentIntents, b, 'payment_intent') : list(d.paymentIntents, '/v1/payment_intents', 'customer');
  if (a === 'setup_intents' && b) return one(d.setupIntents, b, 'setup_intent');
  if (a === 'payment_methods')
    return b ? one(d.paymentMethods, b, 'PaymentMethod') : list(d.paymentMethods, '/v1/payment_methods', 'customer');
  if (a === 'customers' && b && c) {
    if (!d.customers.some((x) => x.id === b)) return noSuch('customer', b);
    return ok(listPage(d.paymentMethodsFor(b), q, `/v1/customers/${b}/payment_methods`));
  }
  if (a === 'customers') return b ? one(d.customers, b, 'customer') : list(d.customers, '/v1/customers', 'customer');
  return unknownUrl(r);
}

/** Stripe refuses a setup-mode session without a currency (dynamic payment methods) and an unknown customer. */
function createSession(d: StripeDoubleStore, p: Record<string, FormValue>, origin: string): Reply {
  if (p.mode === 'setup' && p.currency === undefined && p.payment_method_types === undefined)
    return apiError(400, 'Missing required param: currency.', 'invalid_request_error', {
      code: 'parameter_missing',
      param: 'currency',
    });
  if (typeof p.customer === 'string' && !d.customers.some((x) => x.id === p.customer))
    return noSuch('customer', p.customer, 'customer');
  return ok(d.createSession(p, origin));
}

class NotExpandable extends Error {}

/** Replaces the id at `path` with a copy of the object it names; `data.x` expands inside a list. */
function expand(d: StripeDoubleStore, value: unknown, path: string[], whole: string): unknown {
  if (!path.length || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => expand(d, v, path, whole));
  const [head, ...rest] = path;
  const record = value as Record<string, unknown>;
  if (!(head in record)) throw new NotExpandable(`This property cannot be expanded (${whole}).`);
  let field = record[head];
  if (typeof field === 'string') {
    const found = d.find(field);
    if (!found) throw new NotExpandable(`This property cannot be expanded (${whole}).`);
    field = clone(found);
  }
  return { ...record, [head]: expand(d, field, rest, whole) };
}
