import type { Logger } from '../logger';
import type { IdempotencyRepository } from './idempotency.repository';

// The contract keeps keys at least 24 hours; twice that leaves room for late retries.
const KEEP_HOURS = 48;

/** Removes old Idempotency-Key records hourly so the table does not grow without bound. */
export function startIdempotencyPurge(repo: IdempotencyRepository, logger: Logger): () => void {
  const run = () =>
    repo.purgeOlderThan(KEEP_HOURS).then(
      (removed) => removed > 0 && logger.info({ removed }, 'purged old idempotency keys'),
      (error) => logger.warn({ err: error }, 'idempotency purge failed'),
    );
  const timer = setInterval(run, 3600_000);
  timer.unref();
  return () => clearInterval(timer);
}
