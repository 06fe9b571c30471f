import type { Logger } from '../../platform/logger';
import type { EventMetrics } from './events.metrics';
import type { EventsRepository } from './events.repository';

/** Delivered events are kept 30 days (receivers dedupe on id long before that), then removed. */
export const KEEP_DELIVERED_DAYS = 30;
// Each statement removes at most BATCH rows, so no purge holds locks or bloats WAL for long; a run
// stops after MAX_BATCHES and the next hourly run goes on.
const BATCH = 1000;
const MAX_BATCHES = 100;

/** One purge run: batches until fewer than BATCH were due, or MAX_BATCHES. Returns the count removed. */
export async function purgeDeliveredEvents(repo: EventsRepository, metrics: EventMetrics): Promise<number> {
  let removed = 0;
  for (let i = 0; i < MAX_BATCHES; i += 1) {
    const n = await repo.purgeDelivered(KEEP_DELIVERED_DAYS, BATCH);
    removed += n;
    metrics.purged.inc(n);
    if (n < BATCH) break;
  }
  return removed;
}

/** Hourly on every replica; concurrent runs on two replicas delete disjoint rows or wait for each other. */
export function startEventsPurge(repo: EventsRepository, metrics: EventMetrics, logger: Logger): () => void {
  const run = () =>
    purgeDeliveredEvents(repo, metrics).then(
      (removed) => removed > 0 && logger.info({ removed }, 'purged delivered events'),
      (error) => logger.warn({ err: error }, 'events purge failed'),
    );
  const timer = setInterval(run, 3600_000);
  timer.unref();
  return () => clearInterval(timer);
}
