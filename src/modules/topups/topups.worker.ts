import type { Logger } from '../../platform/logger';
import type { Metrics } from '../../platform/metrics';
import type { TopupAttempts } from './topups.service';
import type { TopupsRepository } from './topups.repository';

const STATS_EVERY_MS = 15_000;

export interface TopupWorkerOptions {
  /** How long a claim lasts: a replica that dies mid-call gives its attempt back after this. */
  leaseSeconds: number;
  /** Attempts claimed per round. */
  batch: number;
}

/**
 * Runs on every replica (server.ts starts it with startPollLoop; tests call runOnce()). Attempts
 * are claimed with SKIP LOCKED, so replicas share the queue and none is sent by two at once; one
 * attempt's trouble never stops the others.
 */
export class TopupWorker {
  private lastStats = 0;

  constructor(
    private readonly repo: TopupsRepository,
    private readonly attempts: TopupAttempts,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: TopupWorkerOptions,
  ) {}

  /** One round: the number of attempts it sent. */
  async runOnce(): Promise<number> {
    await this.refreshStats();
    const claimed = await this.repo.claimDue(this.options.batch, this.options.leaseSeconds);
    await Promise.all(
      claimed.map((t) =>
        this.attempts.run(t).catch((error) => {
          // The attempt keeps its lease: it is taken up again, with the same idempotency key, once it ends.
          this.logger.warn({ err: error, topupId: t.id }, 'auto top-up attempt could not be recorded; will retry');
        }),
      ),
    );
    return claimed.length;
  }

  private async refreshStats(): Promise<void> {
    if (Date.now() - this.lastStats < STATS_EVERY_MS) return;
    this.lastStats = Date.now();
    const stats = await this.repo.stats();
    this.metrics.topups.pending.set(stats.pending);
    this.metrics.topups.paused.set(stats.paused);
  }
}
