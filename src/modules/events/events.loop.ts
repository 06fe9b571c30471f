import type { Logger } from '../../platform/logger';
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
  let stopped = false;
  let current: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
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
  let failures = 0;
  const loop = () => {
    if (stopped) return;
    current = tick()
      .then((sent) => {
        failures = 0;
        return sent;
      })
      .catch((error) => {
        // The database or the network is down: log once per pause, and pause longer each time (up to 30 s).
        failures += 1;
        logger.warn({ err: error, failures }, 'event dispatch failed');
        return -1;
      })
      .then((sent) => {
        const pause =
          sent < 0 ? Math.min(30_000, (options.pollMs ?? 500) * 2 ** failures) : sent > 0 ? 0 : (options.pollMs ?? 500);
        // Events were sent: more may be due, go again at once; otherwise wait for the next poll.
        if (!stopped) timer = setTimeout(loop, pause);
        timer?.unref();
      });
  };
  loop();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await current;
  };
}
