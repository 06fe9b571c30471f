import type { Logger } from '../../platform/logger';
import { startPollLoop } from '../../platform/jobs/poll-loop';
import type { Metrics } from '../../platform/metrics';
import { EventDispatcher, refreshOutboxStats, type DispatcherOptions } from './events.dispatcher';
import type { EventMetrics } from './events.metrics';
import type { EventsRepository } from './events.repository';

const STATS_EVERY_MS = 15_000;

/**
 * Started by server.ts on every replica (tests build dispatchers and call runOnce()). Without a
 * receiver URL nothing is sent: events are still recorded and wait, pending. Returns stop(),
 * which waits for the deliveries in flight.
 */
export function startEventDispatcher(
  repo: EventsRepository,
  metrics: Metrics,
  logger: Logger,
  options: Partial<DispatcherOptions>,
): () => Promise<void> {
  const eventMetrics: EventMetrics = metrics.events;
  const dispatcher =
    options.url && options.secret
      ? new EventDispatcher(repo, eventMetrics, logger, options as DispatcherOptions)
      : undefined;
  // The stalled-delivery alert requires this: without a receiver, pending events are expected to wait.
  eventMetrics.dispatcherEnabled.set(dispatcher ? 1 : 0);
  let lastStats = 0;
  const tick = async () => {
    if (Date.now() - lastStats >= STATS_EVERY_MS) {
      lastStats = Date.now();
      await refreshOutboxStats(repo, eventMetrics).catch((error) => {
        logger.warn({ err: error }, 'outbox stats failed');
      });
    }
    if (!dispatcher) return 0;
    return dispatcher.runOnce();
  };
  // Events sent: more may be due, go again at once; a failing database or network pauses longer each time.
  return startPollLoop(tick, { name: 'event dispatch', pollMs: options.pollMs ?? 500, logger });
}
