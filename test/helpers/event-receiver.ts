import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  id: string;
  body: { id: string; type: string; createdAt: string; userId: string; data: Record<string, unknown> };
  verified: boolean;
  at: number;
}

/**
 * A receiver on 127.0.0.1 that verifies every delivery with the Standard Webhooks library, as a
 * customer's backend would. `answer` decides each response (status, or 'hang' to never answer).
 */
export class EventReceiver {
  readonly received: Received[] = [];
  inFlight = new Map<string, number>();
  maxConcurrentPerId = 0;
  answer: (body: Received['body'], n: number) => number | 'hang' = () => 200;
  delayMs = 0;
  private server?: http.Server;
  private readonly webhook: Webhook;
  port = 0;

  constructor(secret: string) {
    this.webhook = new Webhook(secret);
  }

  async start(port = 0): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let verified: boolean;
        try {
          this.webhook.verify(raw, req.headers as Record<string, string>);
          verified = true;
        } catch {
          verified = false;
        }
        const body = JSON.parse(raw) as Received['body'];
        const now = (this.inFlight.get(body.id) ?? 0) + 1;
        this.inFlight.set(body.id, now);
        this.maxConcurrentPerId = Math.max(this.maxConcurrentPerId, now);
        const n = this.received.filter((r) => r.id === body.id).length;
        this.received.push({ id: String(req.headers['webhook-id']), body, verified, at: Date.now() });
        if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
        this.inFlight.set(body.id, (this.inFlight.get(body.id) ?? 1) - 1);
        const status = verified ? this.answer(body, n) : 400;
        if (status === 'hang') return; // never answers; the sender's timeout must end it
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  idsInOrder(): string[] {
    return this.received.map((r) => r.id);
  }
}
