import type { Readable } from 'node:stream';
import { escapeLiteral } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { ReadDatabase } from '../../platform/db/read-replica';

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
  constructor(private readonly db: ReadDatabase) {}

  async page(userId: string, beforePostingId: string | undefined, limit: number, period: Period): Promise<LedgerRow[]> {
    return this.db.prisma.$queryRaw<LedgerRow[]>`
      SELECT p.id::text AS "postingId", t.id::text AS "transactionId", t.type, p.amount::text AS amount,
             p.balance_after::text AS "balanceAfter", t.correlation_id AS "correlationId", t.reference,
             t.created_at AS "createdAt"
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
   * so this one query uses the shared pool directly. It resolves once the first bytes (the header)
   * arrived: a server that refuses or cancels the query fails here, while the read can still go
   * elsewhere, instead of in the middle of a response.
   */
  async exportCsv(
    userId: string | undefined,
    period: Period,
  ): Promise<{ stream: Readable; done: (error?: Error) => void }> {
    const sql = `COPY (${exportSelect(userId, period)}) TO STDOUT WITH (FORMAT csv, HEADER true)`;
    const client = await this.db.pool.connect();
    let released = false;
    const done = (error?: Error) => {
      if (released) return;
      released = true;
      // A COPY cut short leaves the connection mid-protocol: destroy it rather than reuse it.
      client.release(error);
    };
    const stream = client.query(copyTo(sql));
    try {
      await firstBytes(stream);
    } catch (error) {
      done(error as Error);
      throw error;
    }
    return { stream, done };
  }
}

function firstBytes(stream: Readable): Promise<void> {
  // Until the caller pipes it, an error must not go unheard (an 'error' without a listener throws);
  // the caller's pipeline still sees it, as the stream is destroyed with it.
  stream.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const onReadable = () => {
      stream.off('error', onError);
      resolve();
    };
    const onError = (error: Error) => {
      stream.off('readable', onReadable);
      reject(error);
    };
    stream.once('readable', onReadable).once('error', onError);
  });
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
