import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeForm, type FormValue } from './form-decode';
import { listPage } from './list';
import { StripeDoubleStore, type StripeObject } from './stripe-double.store';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, FormValue>;
  body: Record<string, FormValue>;
  idempotencyKey: string | undefined;
  stripeVersion: string | undefined;
}

interface Reply {
  status: number;
  body: unknown;
}

/**
 * A Stripe-compatible HTTP server for tests (plain node:http on 127.0.0.1, ephemeral port): the
 * real `stripe` SDK talks to it over real HTTP with form-encoded bodies. It checks the secret
 * key, honours Idempotency-Key like Stripe (same key + same body replays, another body is
 * refused), records every request, and lists with Stripe's pagination.
 */
export class StripeDouble extends StripeDoubleStore {
  readonly secretKey = `sk_test_${randomBytes(16).toString('hex')}`;
  readonly requests: RecordedRequest[] = [];
  private readonly idempotent = new Map<string, { hash: string; reply: Reply }>();
  private failures: number[] = [];
  private held: Array<{ path: RegExp; arrived: () => void; released: Promise<void> }> = [];
  private server?: http.Server;
  url = '';

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** The next `count` API calls answer `status` (as an outage would); the SDK's retries count too. */
  failNext(count: number, status = 500): void {
    this.failures = Array(count).fill(status);
  }

  /**
   * The next call whose path matches waits for `release()`, as a slow Stripe would; `reached`
   * resolves once it has arrived, so a test can act while the caller is waiting for Stripe.
   */
  holdNext(path: RegExp): { reached: Promise<void>; release: () => void } {
    let arrived!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    this.held.push({ path, arrived, released: new Promise<void>((resolve) => (release = resolve)) });
    return { reached, release };
  }

  requestsTo(method: string, path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: decodeForm(url.search.slice(1)),
      body: decodeForm(raw),
      idempotencyKey: req.headers['idempotency-key'] as string | undefined,
      stripeVersion: req.headers['stripe-version'] as string | undefined,
    };
    this.requests.push(recorded);
    const held = this.held.findIndex((h) => h.path.test(recorded.path));
    if (held >= 0) {
      const [h] = this.held.splice(held, 1);
      h.arrived();
      await h.released;
    }
    const send = (r: Reply, replayed = false) => {
      res.writeHead(r.status, {
        'Content-Type': 'application/json',
        'Request-Id': `req_${randomBytes(8).toString('hex')}`,
        ...(replayed ? { 'Idempotent-Replayed': 'true' } : {}),
      });
      res.end(JSON.stringify(r.body));
    };
    if (req.headers.authorization !== `Bearer ${this.secretKey}`) return send(error(401, 'Invalid API Key provided.'));
    const failure = this.failures.shift();
    if (failure) return send(error(failure, 'Simulated Stripe outage', 'api_error'));

    const key = recorded.idempotencyKey && recorded.method === 'POST' ? recorded.idempotencyKey : undefined;
    const hash = createHash('sha256').update(`${recorded.path}\n${raw}`).digest('hex');
    const prior = key ? this.idempotent.get(key) : undefined;
    if (prior && prior.hash !== hash) {
      return send(
        error(
          400,
          'Keys for idempotent requests can only be used with the same parameters they were first used with.',
          'idempotency_error',
        ),
      );
    }
    if (prior) return send(prior.reply, true);
    const reply = this.route(recorded);
    if (key && reply.status < 500) this.idempotent.set(key, { hash, reply });
    send(reply);
  }

  private route(r: RecordedRequest): Reply {
    const ok = (body: unknown): Reply => ({ status: 200, body });
    const one = (list: StripeObject[], id: string, kind: string) => {
      const found = list.find((o) => o.id === id);
      return found ? ok(found) : error(404, `No such ${kind}: '${id}'`, 'invalid_request_error', 'resource_missing');
    };
    const byPi = (o: StripeObject) =>
      (typeof r.query.payment_intent !== 'string' || o.payment_intent === r.query.payment_intent) &&
      (typeof r.query.status !== 'string' || o.status === r.query.status);
    const [, v1, a, b, c] = r.path.split('/');
    if (v1 !== 'v1') return error(404, `Unrecognized request URL (${r.method}: ${r.path}).`);
    if (r.method === 'POST' && a === 'checkout' && b === 'sessions' && !c)
      return ok(this.createSession(r.body, this.url));
    if (r.method !== 'GET') return error(404, `Unrecognized request URL (${r.method}: ${r.path}).`);
    if (a === 'checkout' && b === 'sessions')
      return c
        ? one(this.sessions, c, 'checkout.session')
        : ok(listPage(this.sessions, r.query, '/v1/checkout/sessions', byPi));
    if (a === 'charges')
      return b ? one(this.charges, b, 'charge') : ok(listPage(this.charges, r.query, '/v1/charges', byPi));
    if (a === 'refunds')
      return b ? one(this.refunds, b, 'refund') : ok(listPage(this.refunds, r.query, '/v1/refunds', byPi));
    if (a === 'disputes')
      return b ? one(this.disputes, b, 'dispute') : ok(listPage(this.disputes, r.query, '/v1/disputes', byPi));
    if (a === 'payment_intents' && b) return one(this.paymentIntents, b, 'payment_intent');
    return error(404, `Unrecognized request URL (${r.method}: ${r.path}).`);
  }
}

function error(status: number, message: string, type = 'invalid_request_error', code?: string): Reply {
  return { status, body: { error: { type, message, ...(code ? { code } : {}) } } };
}
