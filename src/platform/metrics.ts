import client from 'prom-client';

/**
 * Every series the service exports, named once. The canary gates (k8s/base/analysis-templates.yaml)
 * and alert rules (k8s/base/prometheus-rule.yaml) query these names; docs/architecture.md lists them.
 * One registry per app so tests can build several apps in one process.
 */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new client.Counter<L>({ name, help, labelNames, registers: [registry] });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new client.Gauge<L>({ name, help, labelNames, registers: [registry] });
  // The pool is read when Prometheus scrapes, so the gauges are never stale and cost nothing between scrapes.
  let pool: PoolStats | undefined;
  let readPool: PoolStats | undefined;
  const poolGauge = (name: string, help: string, stats: () => PoolStats | undefined) =>
    new client.Gauge({
      name,
      help,
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const p = stats();
        if (!p) return;
        this.set({ state: 'in_use' }, p.totalCount - p.idleCount);
        this.set({ state: 'idle' }, p.idleCount);
        this.set({ state: 'waiting' }, p.waitingCount);
      },
    });

  return {
    registry,
    httpRequestDuration: new client.Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by method, route template and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    httpRequests: counter('http_requests_total', 'HTTP requests by method, route template and status', [
      'method',
      'route',
      'status',
    ]),
    // Credits are counted as floats by Prometheus itself; these are observability, never the books.
    creditsPurchased: counter('billing_credits_purchased_total', 'Credits bought through Stripe (without bonus)'),
    creditsBonus: counter('billing_credits_bonus_total', 'Bonus credits granted with purchases'),
    creditsDebited: counter('billing_credits_debited_total', 'Credits charged for usage by model', ['model']),
    creditsRefunded: counter('billing_credits_refunded_total', 'Credits taken back for refunds'),
    creditsDisputed: counter(
      'billing_credits_disputed_total',
      'Credits taken back for disputes (a won dispute gives them back as a dispute_reversal, not counted here)',
    ),
    usageReconciliations: counter('billing_usage_reconciliations_total', 'Usage reconciliations by outcome', [
      'outcome',
    ]),
    chargeBatchRetries: counter(
      'billing_charge_batch_retries_total',
      'Charge batches that failed as a whole and were retried one charge at a time, by cause (statement or connection)',
      ['cause'],
    ),
    insufficientFunds: counter('billing_insufficient_funds_total', 'Charges and holds refused for lack of credits', [
      'operation',
    ]),
    purchaseAmountMismatches: counter(
      'billing_purchase_amount_mismatch_total',
      'Paid Checkout Sessions whose amount or currency did not match the package (not credited)',
    ),
    webhookEvents: counter('billing_webhook_events_total', 'Stripe webhook events by type and outcome', [
      'type',
      'outcome',
    ]),
    webhookLookupsRefused: counter(
      'billing_webhook_lookups_refused_total',
      'Refund and dispute events recorded as failed and acknowledged because Stripe refused the PaymentIntent lookup ' +
        '(401/403: the key is wrong, revoked or lacks permission)',
      ['status'],
    ),
    authFailures: counter('billing_auth_failures_total', 'Rejected credentials by reason', ['reason']),
    rateLimited: counter('billing_rate_limited_total', 'Requests refused by the rate limiter', ['limiter']),
    dbPoolConnections: poolGauge(
      'billing_db_pool_connections',
      'Database pool connections by state (in_use, idle, waiting = callers queued for a connection)',
      () => pool,
    ),
    /** Points the pool gauges at the app's pg Pool. */
    observePool(p: PoolStats) {
      pool = p;
    },
    // A series of its own rather than a label on the primary's: the canary gate divides in_use by
    // pods x DATABASE_POOL_MAX, which a second pool's series would skew.
    dbReadPoolConnections: poolGauge(
      'billing_db_read_pool_connections',
      'Read-replica pool connections by state (in_use, idle, waiting); absent without DATABASE_READ_URL',
      () => readPool,
    ),
    observeReadPool(p: PoolStats) {
      readPool = p;
    },
    readFallbacks: counter(
      'billing_read_fallback_total',
      'Replica-routed reads answered by the primary instead, by reason (lag, unavailable, not_standby, query_failed)',
      ['reason'],
    ),
    routedReads: counter(
      'billing_routed_reads_total',
      'Reads routed to the replica when one is configured, by where they were answered (replica, primary)',
      ['target'],
    ),
    readReplicaLag: gauge(
      'billing_read_replica_lag_seconds',
      "Upper bound of the read replica's staleness at its last check (0 when caught up with the primary)",
    ),
    dbQueryDuration: new client.Histogram({
      name: 'billing_db_query_duration_seconds',
      help: 'Database round-trip latency by operation',
      labelNames: ['operation'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    ledgerInvariantsOk: gauge(
      'billing_ledger_invariants_ok',
      '1 when the last trial balance passed every invariant, 0 when one failed',
    ),
    holdsActive: gauge('billing_holds_active', 'Unexpired active holds'),
    holdsHeldCredits: gauge('billing_holds_held_credits', 'Credits reserved by unexpired active holds'),
    holdsEnded: counter('billing_holds_total', 'Holds by how they ended', ['outcome']),
    holdsExpiredUnsettled: gauge(
      'billing_holds_expired_unsettled',
      'Holds that expired in the last 15 minutes and are still neither settled nor released (leak signal)',
    ),
    holdSettleOverage: counter(
      'billing_hold_settle_overage_credits_total',
      'Credits charged above the reservation on settle',
    ),
    // Outbound events: the gauges are read from the database (cluster-wide: aggregate with max()),
    // the counters count this replica's deliveries.
    events: {
      created: gauge('billing_events_created', 'Outbound events ever created (cluster-wide, from the events sequence)'),
      pending: gauge('billing_events_pending', 'Outbound events not yet delivered (cluster-wide)'),
      failedNow: gauge('billing_events_failed', 'Outbound events given up after 72 hours of retries (cluster-wide)'),
      oldestPendingAge: gauge(
        'billing_events_oldest_pending_age_seconds',
        'Age of the oldest pending outbound event, 0 when none (cluster-wide)',
      ),
      dispatcherEnabled: gauge(
        'billing_events_dispatcher_enabled',
        '1 when this replica delivers events (EVENTS_WEBHOOK_URL and secret set), 0 when it only records them',
      ),
      purged: counter(
        'billing_events_purged_total',
        'Delivered events removed after the retention period by this replica',
      ),
      delivered: counter('billing_events_delivered_total', 'Outbound events delivered by this replica, by type', [
        'type',
      ]),
      failed: counter(
        'billing_events_failed_total',
        'Outbound events this replica gave up on (status failed), by type',
        ['type'],
      ),
      attempts: counter(
        'billing_event_delivery_attempts_total',
        'Delivery attempts by result (delivered, http_error, timeout, network)',
        ['result'],
      ),
      latency: new client.Histogram({
        name: 'billing_event_delivery_latency_seconds',
        help: "From an event's creation to its acknowledged delivery",
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
        registers: [registry],
      }),
    },
    // Auto top-up (docs/auto-topup.md): attempts this replica sent to Stripe, and cluster-wide gauges
    // read from the database by the worker.
    topups: {
      attempts: counter(
        'billing_topup_attempts_total',
        'Auto top-up attempts answered by Stripe, by outcome (succeeded, processing, failed, requires_action, retry)',
        ['outcome'],
      ),
      paused: gauge('billing_autotopup_paused', 'Users whose auto top-up is paused (cluster-wide)'),
      pending: gauge('billing_topups_pending', 'Auto top-up attempts waiting for the worker (cluster-wide)'),
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

interface PoolStats {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/** Times a database round trip under an operation label. */
export async function timed<T>(metrics: Metrics | undefined, operation: string, work: () => Promise<T>): Promise<T> {
  if (!metrics) return work();
  const end = metrics.dbQueryDuration.startTimer({ operation });
  try {
    return await work();
  } finally {
    end();
  }
}
