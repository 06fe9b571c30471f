import { badRequest } from '../../platform/errors';
import { formatCredits } from '../../platform/money';
import type { RoutedReads } from '../../platform/db/read-router';
import type { LedgerRepository, Period } from './ledger.repository';

const encodeCursor = (postingId: string) => Buffer.from(postingId, 'utf8').toString('base64url');

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^\d{1,18}$/.test(id))
    throw badRequest('Invalid cursor', [{ field: 'cursor', message: 'not a cursor from this API' }]);
  return id;
}

export class LedgerService {
  /** History and exports are read on the replica when one is configured and fresh (ReadRouter). */
  constructor(private readonly reads: RoutedReads<LedgerRepository>) {}

  async page(userId: string, query: { limit: number; cursor?: string } & Period) {
    const before = query.cursor ? decodeCursor(query.cursor) : undefined;
    const { value: rows, asOf } = await this.reads.run((repo) => repo.page(userId, before, query.limit + 1, query));
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    const body = {
      data: page.map((r) => ({
        transactionId: r.transactionId,
        type: r.type,
        amount: formatCredits(r.amount),
        balanceAfter: formatCredits(r.balanceAfter),
        correlationId: r.correlationId,
        reference: r.reference,
        createdAt: r.createdAt.toISOString(),
      })),
      nextCursor: more ? encodeCursor(page[page.length - 1].postingId) : null,
    };
    return { body, asOf };
  }

  async exportCsv(userId: string | undefined, period: Period) {
    const { value, asOf } = await this.reads.run((repo) => repo.exportCsv(userId, period));
    return { ...value, asOf };
  }
}
