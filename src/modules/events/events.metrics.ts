import type { Metrics } from '../../platform/metrics';

/** The outbox's series, declared with every other series in platform/metrics.ts. */
export type EventMetrics = Metrics['events'];
