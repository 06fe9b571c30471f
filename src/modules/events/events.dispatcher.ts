import type { Logger } from '../../platform/logger';
import type { EventMetrics } from './events.metrics';
import type { EventsRepository, OutboundEvent } from './events.repository';
import { signatureHeaders } from './events.signing';

export interface DispatcherOptions {
  url: string;
  secret: string;
  /** How long a receiver may take to answer; no answer in time is a failed attempt. */
  timeoutMs?: number;
  /** The first retry's delay; each further one doubles, up to maxDelayMs, with jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long an event is retried before it is failed. */
  retryForMs?: number;
  pollMs?: number;
  batchSize?: number;
}

const DEFAULTS = {
  timeoutMs: 10_000,
  baseDelayMs: 5_000,
  maxDelayMs: 3_600_000,
  retryForMs: 72 * 3_600_000,
  pollMs: 500,
  batchSize: 20,
};

/** Exponential backoff with jitter: attempt n waits between half and all of min(max, base * 2^(n-1)). */
export function retryDelayMs(attempt: number, base: number, max: number, random = Math.random): number {
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Delivers the outbox. Any number of replicas may run one: claims are exclusive (see
 * EventsRepository.claim), no database connection is held while a receiver answers, and a
 * receiver's slowness only delays events, never a charge (charges never wait for this loop).
 */
export class EventDispatcher {
  private readonly o: typeof DEFAULTS & DispatcherOptions;

  constructor(
    private readonly repo: EventsRepository,
    private readonly metrics: EventMetrics,
    private readonly logger: Logger,
    options: DispatcherOptions,
  ) {
    this.o = { ...DEFAULTS, ...options };
  }

  /** One round: claim what is due and deliver it, in parallel across users. Returns how many were attempted. */
  async runOnce(): Promise<number> {
    const events = await this.repo.claim(this.o.batchSize, this.o.timeoutMs * 3);
    await Promise.all(events.map((e) => this.deliver(e)));
    return events.length;
  }

  private async deliver(e: OutboundEvent): Promise<void> {
    const createdAt = e.createdAt.toISOString();
    const body = JSON.stringify({ id: e.id, type: e.type, createdAt, userId: e.userId, data: e.data });
    const headers = signatureHeaders(this.o.secret, e.id, Math.floor(Date.now() / 1000), body);
    let status: number | null = null;
    let error: string;
    let result: 'http_error' | 'timeout' | 'network';
    try {
      const res = await fetch(this.o.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'User-Agent': 'scholarlink-billing-events', ...headers },
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs),
        redirect: 'manual',
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (status >= 200 && status < 300) {
        this.metrics.attempts.inc({ result: 'delivered' });
        if (await this.repo.markDelivered(e, status)) {
          this.metrics.delivered.inc({ type: e.type });
          this.metrics.latency.observe((Date.now() - e.createdAt.getTime()) / 1000);
        }
        return;
      }
      result = 'http_error';
      error = `HTTP ${status}`;
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      result = timedOut ? 'timeout' : 'network';
      error = timedOut ? `no answer within ${this.o.timeoutMs} ms` : `network: ${(err as Error).message}`;
    }
    this.metrics.attempts.inc({ result });
    const retryAt = new Date(Date.now() + retryDelayMs(e.attempts, this.o.baseDelayMs, this.o.maxDelayMs));
    const deadline = new Date(e.createdAt.getTime() + this.o.retryForMs);
    const outcome = await this.repo.markAttemptFailed(e, status, error, retryAt, deadline);
    if (outcome === 'failed') {
      this.metrics.failed.inc({ type: e.type });
      this.logger.warn({ eventId: e.id, type: e.type, attempts: e.attempts, error }, 'outbound event failed for good');
    }
  }
}

/** Points the cluster-wide outbox gauges at the database's current state. */
export async function refreshOutboxStats(repo: EventsRepository, metrics: EventMetrics): Promise<void> {
  const s = await repo.stats();
  metrics.created.set(Number(s.created));
  metrics.pending.set(Number(s.pending));
  metrics.failedNow.set(Number(s.failed));
  metrics.oldestPendingAge.set(s.oldestPendingAgeSeconds);
}
