import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeForm } from './form-decode';
import { apiError as error, type Reply } from './stripe-double.objects';
import { route, type RecordedRequest } from './stripe-double.routes';
import { StripeDoubleStore } from './stripe-double.store';

export type { RecordedRequest } from './stripe-double.routes';

/**
 * A Stripe-compatible HTTP server for tests (plain node:http on 127.0.0.1, ephemeral port): the
 * real `stripe` SDK talks to it over real HTTP with form-encoded bodies. It checks the secret
 * key, honours Idempotency-Key like Stripe (same key + same body replays, another body is
 * refused), records every request, and lists with Stripe's pagination.
 */
export class StripeDouble extends StripeDoubleStore {
  readonly secretKey = `sk_test_${randomBytes(16).toString('hex')}`;
  readonly requests: RecordedRequest[] = [];
  private readonly idempotent = new Map<string, { hash: string; status: number; body: string }>();
  private readonly inFlight = new Set<string>();
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
    // Stripe answers 409 to a second request while the first with the same key is still running.
    const key = recorded.idempotencyKey && recorded.method === 'POST' ? recorded.idempotencyKey : undefined;
    const busy = key !== undefined && this.inFlight.has(key);
    if (key && !busy) this.inFlight.add(key);
    try {
      await this.answer(recorded, raw, { busy, authorization: req.headers.authorization }, res);
    } finally {
      if (key && !busy) this.inFlight.delete(key);
    }
  }

  private async answer(
    recorded: RecordedRequest,
    raw: string,
    o: { busy: boolean; authorization: string | undefined },
    res: http.ServerResponse,
  ) {
    const held = this.held.findIndex((h) => h.path.test(recorded.path));
    if (held >= 0) {
      const [h] = this.held.splice(held, 1);
      h.arrived();
      await h.released;
    }
    // Bodies are serialized when answered, so a replay repeats the first answer even after the objects moved on.
    const send = (status: number, body: string, replayed = false) => {
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Request-Id': `req_${randomBytes(8).toString('hex')}`,
        ...(replayed ? { 'Idempotent-Replayed': 'true' } : {}),
      });
      res.end(body);
    };
    const reply = (r: Reply) => send(r.status, JSON.stringify(r.body));
    if (o.authorization !== `Bearer ${this.secretKey}`) return reply(error(401, 'Invalid API Key provided.'));
    const failure = this.failures.shift();
    if (failure) return reply(error(failure, 'Simulated Stripe outage', 'api_error'));

    const key = recorded.idempotencyKey && recorded.method === 'POST' ? recorded.idempotencyKey : undefined;
    if (o.busy)
      return reply(
        error(
          409,
          `There is currently another in-progress request using this Idempotent Key (that probably means you ` +
            `submitted twice, and the other request is still going through): ${key}. Please try again later.`,
          'idempotency_error',
        ),
      );
    const hash = createHash('sha256').update(`${recorded.path}\n${raw}`).digest('hex');
    const prior = key ? this.idempotent.get(key) : undefined;
    if (prior && prior.hash !== hash) {
      return reply(
        error(
          400,
          'Keys for idempotent requests can only be used with the same parameters they were first used with.',
          'idempotency_error',
        ),
      );
    }
    if (prior) return send(prior.status, prior.body, true);
    const r = route(this, recorded, this.url);
    const body = JSON.stringify(r.body);
    // Any answer below 500 is final for the key (a 402 card decline included); a 5xx may be retried.
    if (key && r.status < 500) this.idempotent.set(key, { hash, status: r.status, body });
    send(r.status, body);
  }
}
