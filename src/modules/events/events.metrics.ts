import client from 'prom-client';
import type { Metrics } from '../../platform/metrics';

/**
 * The outbox's series. The gauges are read from the database (every replica reports the same
 * cluster-wide value: aggregate with max()); the counters count this replica's deliveries.
 */
export function createEventMetrics(metrics: Metrics): EventMetrics {
  const known = cache.get(metrics);
  if (known) return known;
  const made = build(metrics);
  cache.set(metrics, made);
  return made;
}

function build(metrics: Metrics) {
  const registers = [metrics.registry];
  return {
    created: new client.Gauge({ name: 'billing_events_created', help: 'Outbound events ever created (cluster-wide, from the events sequence)', registers }),
    pending: new client.Gauge({ name: 'billing_events_pending', help: 'Outbound events not yet delivered (cluster-wide)', registers }),
    failedNow: new client.Gauge({ name: 'billing_events_failed', help: 'Outbound events given up after 72 hours of retries (cluster-wide)', registers }),
    oldestPendingAge: new client.Gauge({ name: 'billing_events_oldest_pending_age_seconds', help: 'Age of the oldest pending outbound event, 0 when none (cluster-wide)', registers }),
    delivered: new client.Counter({ name: 'billing_events_delivered_total', help: 'Outbound events delivered by this replica, by type', labelNames: ['type'] as const, registers }),
    failed: new client.Counter({ name: 'billing_events_failed_total', help: 'Outbound events this replica gave up on (status failed), by type', labelNames: ['type'] as const, registers }),
    attempts: new client.Counter({ name: 'billing_event_delivery_attempts_total', help: 'Delivery attempts by result (delivered, http_error, timeout, network)', labelNames: ['result'] as const, registers }),
    latency: new client.Histogram({
      name: 'billing_event_delivery_latency_seconds',
      help: 'From an event\'s creation to its acknowledged delivery',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers,
    }),
  };
}

export type EventMetrics = ReturnType<typeof build>;
// One set per registry: the app (admin routes) and server.ts (the loop) share it.
const cache = new WeakMap<Metrics, EventMetrics>();
