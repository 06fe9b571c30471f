import type { Database } from '../../platform/db/database';

type RawRunner = Pick<Database['prisma'], '$executeRaw'>;

export interface OutboundEvent {
  seq: string;
  id: string;
  type: string;
  userId: string;
  data: Record<string, unknown>;
  createdAt: Date;
  attempts: number;
}

export interface EventRow {
  seq: string;
  eventId: string;
  type: string;
  userId: string;
  status: string;
  attempts: number;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  nextAttemptAt: Date | null;
  createdAt: Date;
}

export interface ListFilter {
  status?: string;
  type?: string;
  userId?: string;
  beforeSeq?: string;
  limit: number;
}

export interface OutboxStats {
  pending: string;
  failed: string;
  oldestPendingAgeSeconds: number;
  created: string;
}

const ROW = `seq::text, id AS "eventId", type, user_id AS "userId", status, attempts,
  last_attempt_at AS "lastAttemptAt", last_status_code AS "lastStatusCode",
  CASE WHEN status = 'pending' THEN next_attempt_at END AS "nextAttemptAt", created_at AS "createdAt"`;

/** Records an event inside the caller's transaction (pass its client), so it commits or rolls back with the fact. */
export async function recordEvent(
  runner: RawRunner,
  type: string,
  userId: string,
  data: Record<string, unknown>,
): Promise<void> {
  await runner.$executeRaw`
    INSERT INTO events (type, user_id, data) VALUES (${type}, ${userId}, ${JSON.stringify(data)}::jsonb)`;
}

export class EventsRepository {
  constructor(private readonly db: Database) {}

  /**
   * Claims due events for delivery: each is the oldest pending event of its user (per-user order),
   * locked with SKIP LOCKED so concurrent dispatchers split the work, and leased so no other
   * dispatcher takes it while this one delivers (no transaction stays open over the HTTP call).
   * attempts is incremented here and is the fencing token for the outcome.
   */
  async claim(limit: number, leaseMs: number): Promise<OutboundEvent[]> {
    const { rows } = await this.db.pool.query<OutboundEvent>(
      `WITH due AS (
         SELECT e.seq FROM events e
         WHERE e.status = 'pending' AND e.next_attempt_at <= now() AND (e.lease_until IS NULL OR e.lease_until <= now())
           AND NOT EXISTS (SELECT 1 FROM events p
                           WHERE p.user_id = e.user_id AND p.status = 'pending' AND p.seq < e.seq)
         ORDER BY e.next_attempt_at, e.seq
         LIMIT $1
         FOR UPDATE SKIP LOCKED
       )
       UPDATE events e SET lease_until = clock_timestamp() + $2 * interval '1 millisecond', attempts = e.attempts + 1,
         last_attempt_at = clock_timestamp()
       FROM due WHERE e.seq = due.seq
       RETURNING e.seq::text, e.id, e.type, e.user_id AS "userId", e.data, e.created_at AS "createdAt", e.attempts`,
      [limit, leaseMs],
    );
    return rows;
  }

  async markDelivered(e: OutboundEvent, statusCode: number): Promise<boolean> {
    const { rowCount } = await this.db.pool.query(
      `UPDATE events SET status = 'delivered', delivered_at = clock_timestamp(), lease_until = NULL,
         last_status_code = $3, last_error = NULL
       WHERE seq = $1 AND attempts = $2 AND status = 'pending'`,
      [e.seq, e.attempts, statusCode],
    );
    return rowCount === 1;
  }

  /** A failed attempt: try again at `retryAt`, or give up (`failed`) when that is past the event's deadline. */
  async markAttemptFailed(
    e: OutboundEvent,
    statusCode: number | null,
    error: string,
    retryAt: Date,
    deadline: Date,
  ): Promise<'pending' | 'failed' | null> {
    const { rows } = await this.db.pool.query<{ status: 'pending' | 'failed' }>(
      `UPDATE events SET lease_until = NULL, last_status_code = $3, last_error = $4,
         status = CASE WHEN $5::timestamptz > $6::timestamptz THEN 'failed' ELSE 'pending' END, next_attempt_at = $5
       WHERE seq = $1 AND attempts = $2 AND status = 'pending' RETURNING status`,
      [e.seq, e.attempts, statusCode, error.slice(0, 500), retryAt, deadline],
    );
    return rows[0]?.status ?? null;
  }

  async list(f: ListFilter): Promise<EventRow[]> {
    const { rows } = await this.db.pool.query<EventRow>(
      `SELECT ${ROW} FROM events
       WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR type = $2)
         AND ($3::text IS NULL OR user_id = $3)
         AND ($4::bigint IS NULL OR seq < $4)
       ORDER BY seq DESC LIMIT $5`,
      [f.status ?? null, f.type ?? null, f.userId ?? null, f.beforeSeq ?? null, f.limit],
    );
    return rows;
  }

  /**
   * Sends an event again now, whatever its status, with the same id. 'in_flight': a dispatcher
   * is delivering it at this moment (its lease holds), and a second copy must not race it.
   * Per-user order still holds: an older pending event of the same user goes first.
   */
  async redeliver(eventId: string): Promise<EventRow | 'in_flight' | undefined> {
    const { rows } = await this.db.pool.query<EventRow & { inFlight: boolean }>(
      `WITH target AS (
         SELECT seq, lease_until IS NOT NULL AND lease_until > now() AS in_flight FROM events WHERE id = $1 FOR UPDATE
       ),
       changed AS (
         UPDATE events e SET status = 'pending', delivered_at = NULL, next_attempt_at = now()
         FROM target WHERE e.seq = target.seq AND NOT target.in_flight RETURNING e.*
       )
       SELECT ${ROW}, false AS "inFlight" FROM changed
       UNION ALL
       SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true FROM target WHERE target.in_flight`,
      [eventId],
    );
    if (!rows[0]) return undefined;
    return rows[0].inFlight ? 'in_flight' : rows[0];
  }

  /**
   * Removes up to `limit` events delivered more than `keepDays` ago, oldest first, in one short
   * statement (events_status_seq_idx); pending and failed events are never removed.
   */
  async purgeDelivered(keepDays: number, limit: number): Promise<number> {
    const { rowCount } = await this.db.pool.query(
      `DELETE FROM events WHERE seq IN (
         SELECT seq FROM events WHERE status = 'delivered' AND delivered_at < now() - make_interval(days => $1)
         ORDER BY seq LIMIT $2)`,
      [keepDays, limit],
    );
    return rowCount ?? 0;
  }

  async stats(): Promise<OutboxStats> {
    const { rows } = await this.db.pool.query<OutboxStats>(
      `SELECT (SELECT count(*) FROM events WHERE status = 'pending')::text AS pending,
              (SELECT count(*) FROM events WHERE status = 'failed')::text AS failed,
              COALESCE(extract(epoch FROM now() - (SELECT min(created_at) FROM events WHERE status = 'pending')),
                       0)::float8
                AS "oldestPendingAgeSeconds",
              (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_seq_seq)::text AS created`,
    );
    return rows[0];
  }
}
