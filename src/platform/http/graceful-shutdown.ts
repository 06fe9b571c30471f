import { createServer, type Server } from 'node:http';
import type { Express } from 'express';
import { expressServerOptions } from './express-server-options';
import type { Logger } from '../logger';

export interface ShutdownOptions {
  port: number;
  host: string;
  graceMs: number;
  /** How long readiness reports 503 while still serving, before the listener closes. */
  drainMs: number;
  lifecycle: { draining: boolean };
  logger: Logger;
  onClosed: () => Promise<void>;
  /**
   * How long in-flight requests may run once the listener has closed
   * (default 5 s, and always before the grace period ends)...
   */
  inFlightMs?: number;
  /**
   * ...before this cancels the database work they wait on (Database.cancelRunning),
   * so they answer and the process exits 0.
   */
  cancelStuck?: () => Promise<void>;
}

/**
 * On SIGTERM/SIGINT:
 * 1. readiness turns 503 and every response carries `Connection: close`, while the listener keeps
 *    accepting for `drainMs` (Kubernetes removes the endpoint asynchronously; closing at once would
 *    refuse the requests still routed here during that window);
 * 2. the listener closes (new connections are refused) and idle keep-alive sockets are closed;
 * 3. in-flight requests finish, then Redis and the pool close and the process exits 0;
 * 4. a request still running `inFlightMs` after the listener closed is stuck (a charge waiting for
 *    a lock): its database work is cancelled, so it answers 503 (retryable) and the exit stays clean.
 * If the grace period runs out first it exits 1, so the orchestrator sees the unclean stop.
 */
export function listenWithGracefulShutdown(app: Express, o: ShutdownOptions): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(expressServerOptions(app), app).listen(o.port, o.host);
    server.once('error', reject);
    server.once('listening', () => resolve(server));
    server.keepAliveTimeout = 65_000; // longer than the ingress's idle timeout

    let stopping = false;
    const close = () => {
      o.logger.info('shutting down: listener closed, finishing in-flight requests');
      const budget = Math.max(0, Math.min(o.inFlightMs ?? 5000, o.graceMs - o.drainMs - 1000));
      const stuck = setTimeout(() => {
        o.logger.warn({ inFlightMs: budget }, 'shutting down: requests still running; cancelling their database work');
        o.cancelStuck?.().catch((error) => o.logger.error({ err: error }, 'could not cancel database work'));
      }, budget).unref();
      server.close(async () => {
        clearTimeout(stuck);
        await o.onClosed().catch((error) => o.logger.error({ err: error }, 'error while closing'));
        o.logger.info('shutdown complete');
        process.exit(0);
      });
      // A keep-alive socket whose request was in flight at close becomes idle only later; sweep until done.
      server.closeIdleConnections();
      setInterval(() => server.closeIdleConnections(), 100).unref();
    };
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      o.lifecycle.draining = true;
      o.logger.info({ signal, drainMs: o.drainMs }, 'shutting down: readiness now 503');
      const force = setTimeout(() => {
        o.logger.error('grace period over; exiting with requests still open');
        process.exit(1);
      }, o.graceMs);
      force.unref();
      // While draining, each response closes its connection so clients reconnect elsewhere.
      // Prepended: the app's own listener may answer synchronously (/healthz), and a header set after
      // the response was sent throws and would crash the process mid-drain.
      server.prependListener('request', (_req, res) => {
        if (!res.headersSent) res.setHeader('Connection', 'close');
      });
      setTimeout(close, o.drainMs);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
