import { AppError } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { ReadDatabase, ReadReplica } from './read-replica';
import type { FallbackReason } from './replica-freshness';

/** A read's answer and, when the replica gave it, the replica's last replayed commit (X-Data-As-Of). */
export interface Served<T> {
  value: T;
  asOf: Date | null;
}

/** A repository built once on the primary and once on the replica; each read picks one. */
export interface RoutedReads<R> {
  run<T>(work: (repo: R) => Promise<T>): Promise<Served<T>>;
}

export interface RouteOptions {
  /** Whether a failure on the replica is worth repeating on the primary (default: anything but an AppError). */
  retryOnPrimary?: (error: unknown) => boolean;
}

const LOG_EVERY_MS = 60_000;

/**
 * Sends history, exports and reports to the replica when it is fresh enough, and to the primary
 * when it lags, is down, refuses, or fails the read: a broken replica costs speed, never a stale
 * or failed answer. Without a replica every read goes to the primary, as before.
 */
export class ReadRouter {
  private lastLogAt = -Infinity;
  private readonly unlogged = new Map<FallbackReason, number>();

  constructor(
    private readonly primary: ReadDatabase,
    private readonly replica?: ReadReplica,
    private readonly metrics?: Metrics,
    private readonly logger?: Logger,
  ) {
    if (replica) metrics?.observeReadPool(replica.db.pool);
  }

  routed<R>(build: (db: ReadDatabase) => R, options: RouteOptions = {}): RoutedReads<R> {
    const onPrimary = build(this.primary);
    const replica = this.replica;
    if (!replica) return { run: async (work) => ({ value: await work(onPrimary), asOf: null }) };
    const onReplica = build(replica.db);
    const retry = options.retryOnPrimary ?? ((error: unknown) => !(error instanceof AppError));
    return {
      run: async (work) => {
        const fresh = await replica.freshness.check();
        if (fresh.lagSeconds !== undefined) this.metrics?.readReplicaLag.set(fresh.lagSeconds);
        if (fresh.usable) {
          try {
            const value = await work(onReplica);
            this.metrics?.routedReads.inc({ target: 'replica' });
            return { value, asOf: fresh.asOf };
          } catch (error) {
            if (!retry(error)) throw error;
            replica.freshness.invalidate();
            this.fellBack('query_failed', error);
          }
        } else {
          this.fellBack(fresh.reason, fresh.error);
        }
        const value = await work(onPrimary);
        this.metrics?.routedReads.inc({ target: 'primary' });
        return { value, asOf: null };
      },
    };
  }

  /** Counts every fallback; logs at most one line a minute, with what the quiet minute held. */
  private fellBack(reason: FallbackReason, error?: unknown) {
    this.metrics?.readFallbacks.inc({ reason });
    this.unlogged.set(reason, (this.unlogged.get(reason) ?? 0) + 1);
    const now = Date.now();
    if (now - this.lastLogAt < LOG_EVERY_MS) return;
    this.lastLogAt = now;
    const counts = Object.fromEntries(this.unlogged);
    this.unlogged.clear();
    this.logger?.warn({ reason, fallbacks: counts, err: error }, 'read replica not used: reads go to the primary');
  }
}
