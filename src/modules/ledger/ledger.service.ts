import { badRequest } from '../../platform/errors';
import { formatCredits } from '../../platform/money';
import type { LedgerRepository, Period } from './ledger.repository';

const encodeCursor = (postingId: string) => Buffer.from(postingId, 'utf8').toString('base64url');

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^\d{1,18}$/.test(id)) throw badRequest('Invalid cursor', [{ field: 'cursor', message: 'not a cursor from this API' }]);
  return id;
}

export class LedgerService {
  constructor(private readonly repo: LedgerRepository) {}

  async page(userId: string, query: { limit: number; cursor?: string } & Period) {
    const rows = await this.repo.page(userId, query.cursor ? decodeCursor(query.cursor) : undefined, query.limit + 1, query);
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    return {
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
  }

  exportCsv(userId: string | undefined, period: Period) {
    return this.repo.exportCsv(userId, period);
  }
}
