import pg from 'pg';

/**
 * One PostgreSQL connection in node-postgres's pipeline mode, for group commit. Queries are written
 * without waiting for the answers of those before them; the backend runs them one after another.
 * pg ends every pipelined query with its own Sync, so each is its own implicit transaction and an
 * error ends that query alone. With two batches on it, the backend starts the next batch as soon as
 * the previous one commits, instead of idling while Node reads the answer and sends the next (the
 * measurements are beside UsageRepository's group commit and in docs/decisions/group-commit-pipelined-connection.md).
 * A broken connection fails the queries written to it and is replaced by the next query.
 */
export class PipelinedConnection {
  private client?: Promise<pg.Client>;
  private connectedClient?: pg.Client;
  private closed = false;

  constructor(private readonly config: pg.ClientConfig) {}

  async query<R extends pg.QueryResultRow>(query: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    const connecting = this.connected();
    const client = await connecting;
    try {
      return await client.query<R>(query);
    } catch (error) {
      // A broken connection can fail the query before the client's 'error' event arrives
      if (isConnectionError(error)) this.forget(connecting, client);
      throw error;
    }
  }

  /** The backend serving this connection now, if connected (for pg_cancel_backend on shutdown). */
  backendPid(): number | undefined {
    return (this.connectedClient as { processID?: number } | undefined)?.processID;
  }

  /** New queries are refused from now on; the ones already written still get their answers. */
  refuseNew(): void {
    this.closed = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    await client?.then((c) => c.end()).catch(() => undefined);
  }

  private connected(): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error('the pipelined connection is closed'));
    if (this.client) return this.client;
    const client = new pg.Client({ ...this.config, pipeline: true });
    const connecting = client.connect().then(() => (this.connectedClient = client));
    // pg fails the queries on a connection that errors or ends; later ones must get a new connection
    const forget = () => this.forget(connecting, client);
    client.on('error', forget);
    client.on('end', forget);
    connecting.catch(forget);
    this.client = connecting;
    return connecting;
  }

  private forget(connecting: Promise<pg.Client>, client: pg.Client) {
    if (this.client !== connecting) return;
    this.client = undefined;
    this.connectedClient = undefined;
    client.end().catch(() => undefined);
  }
}

// Prepared-statement states that a new connection clears: pg's record of what it prepared can
// disagree with the backend after a failed first Parse (26000, 42P05), and a migration that changes
// a function's result leaves the cached plan unusable on this backend for good (0A000).
const STALE_STATEMENT = new Set(['26000', '42P05', '0A000']);

/** True when the connection, not the statement, failed: a socket error, or a FATAL/PANIC from the server. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof pg.DatabaseError)) return true;
  return error.severity === 'FATAL' || error.severity === 'PANIC' || STALE_STATEMENT.has(error.code ?? '');
}
