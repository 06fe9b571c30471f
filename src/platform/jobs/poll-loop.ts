import type { Logger } from '../logger';

export interface PollLoopOptions {
  /** What the loop is, for its log lines. */
  name: string;
  /** The pause when a tick found nothing to do. */
  pollMs: number;
  logger: Logger;
}

/**
 * Runs tick() again and again: at once when it did some work (more may be due), after pollMs when it
 * found none, and after a growing pause (up to 30 s) while it fails, logging each failure. Returns
 * stop(), which waits for the tick in progress. Timers are unref'd: the loop never keeps a process up.
 */
export function startPollLoop(tick: () => Promise<number>, o: PollLoopOptions): () => Promise<void> {
  let stopped = false;
  let failures = 0;
  let current: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    if (stopped) return;
    current = tick()
      .then((done) => {
        failures = 0;
        return done > 0 ? 0 : o.pollMs;
      })
      .catch((error) => {
        failures += 1;
        o.logger.warn({ err: error, failures }, `${o.name} failed`);
        return Math.min(30_000, o.pollMs * 2 ** failures);
      })
      .then((pause) => {
        if (stopped) return;
        timer = setTimeout(loop, pause);
        timer.unref();
      });
  };
  loop();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await current;
  };
}
