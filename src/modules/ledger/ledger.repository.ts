import type { Readable } from 'node:stream';
import { escapeLiteral } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Database } from '../../platform/db/database';

export interface LedgerRow {
  postingId: string;
  transactionId: string;
  type: string;
  amount: string;
  balanceAfter: string;
  correlationId: string | null;
  reference: string | null;
  createdAt: Date;
}

export interface Period {
  from?: Date;
  to?: Date;
}

export class LedgerRepository {
  constructor(private readonly db: Database) {}

  async page(userId: string, beforePostingId: string | undefined, limit: number, period: Period): Promise<LedgerRow[]> {
    return this.db.prisma.$queryRaw<LedgerRow[]>`
      SELECT p.id::text AS "postingId", t.id::text AS "transactionId", t.type, p.amount::text AS amount,
             p.balance_after::text AS "balanceAfter", t.correlation_id AS "correlationId", t.reference, t.created_at AS "createdAt"
      FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id
      WHERE p.account_id = (SELECT id FROM accounts WHERE user_id = ${userId})
        AND (${beforePostingId}::bigint IS NULL OR p.id < ${beforePostingId}::bigint)
        AND (${period.from ?? null}::timestamptz IS NULL OR p.created_at >= ${period.from ?? null}::timestamptz)
        AND (${period.to ?? null}::timestamptz IS NULL OR p.created_at < ${period.to ?? null}::timestamptz)
      ORDER BY p.id DESC LIMIT ${limit}`;
  }

  /**
   * The export as PostgreSQL's own COPY ... CSV (RFC 4180 quoting), streamed straight to the client:
   * no row is ever materialised in Node, so memory stays flat at any size. Prisma cannot stream,
   * so this one query uses the shared pool directly.
   */
  async exportCsv(userId: string | undefined, period: Period): Promise<{ stream: Readable; done: (error?: Error) => void }> {
    const sql = `COPY (${exportSelect(userId, period)}) TO STDOUT WITH (FORMAT csv, HEADER true)`;
    const client = await this.db.pool.connect();
    let released = false;
    const done = (error?: Error) => {
      if (released) return;
      released = true;
      // A COPY cut short leaves the connection mid-protocol: destroy it rather than reuse it.
      client.release(error);
    };
    return { stream: client.query(copyTo(sql)), done };
  }
}

/**
 * The export's SELECT, shared with `npm run bench`, which times psql's \copy of exactly these rows.
 * COPY takes no bind parameters; every value below is a validated date or goes through escapeLiteral.
 */
export function exportSelect(userId: string | undefined, period: Period): string {
  const where = ['a.user_id IS NOT NULL'];
  if (userId !== undefined) where.push(`a.user_id = ${escapeLiteral(userId)}`);
  if (period.from) where.push(`p.created_at >= ${escapeLiteral(period.from.toISOString())}::timestamptz`);
  if (period.to) where.push(`p.created_at < ${escapeLiteral(period.to.toISOString())}::timestamptz`);
  return `SELECT to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
             t.id AS transaction_id, billing_csv_text(a.user_id) AS user_id, t.type,
             trim_scale(p.amount) AS amount, trim_scale(p.balance_after) AS balance_after,
             billing_csv_text(t.correlation_id) AS correlation_id, billing_csv_text(t.reference) AS reference
      FROM postings p JOIN accounts a ON a.id = p.account_id JOIN ledger_transactions t ON t.id = p.transaction_id
      WHERE ${where.join(' AND ')}
      ORDER BY p.id`;
}
