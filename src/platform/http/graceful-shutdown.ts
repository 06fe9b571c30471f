import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from '../logger';

export interface ShutdownOptions {
  port: number;
  host: string;
  graceMs: number;
  lifecycle: { draining: boolean };
  logger: Logger;
  onClosed: () => Promise<void>;
}

/**
 * On SIGTERM/SIGINT: readiness turns 503, the listener stops accepting, keep-alive connections
 * are told to close after their current response, in-flight requests finish, then the pool
 * closes and the process exits 0. Past the grace period it exits 1.
 */
export function listenWithGracefulShutdown(app: Express, o: ShutdownOptions): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(o.port, o.host);
    server.once('error', reject);
    server.once('listening', () => resolve(server));
    server.keepAliveTimeout = 65_000; // longer than the ingress's idle timeout

    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      o.lifecycle.draining = true;
      o.logger.info({ signal }, 'shutting down: draining in-flight requests');
      const force = setTimeout(() => {
        o.logger.error('grace period over; exiting with requests still open');
        process.exit(1);
      }, o.graceMs);
      force.unref();
      // While draining, each response closes its connection so clients reconnect elsewhere.
      server.on('request', (_req, res) => res.setHeader('Connection', 'close'));
      server.close(async () => {
        await o.onClosed().catch((error) => o.logger.error({ err: error }, 'error while closing'));
        o.logger.info('shutdown complete');
        process.exit(0);
      });
      server.closeIdleConnections();
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
