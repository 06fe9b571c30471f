import { badRequest } from '../../platform/errors';
import { formatCredits, money, usdFromCents } from '../../platform/money';
import { isUuid } from '../../platform/uuid';
import type { TopupRow, TopupsRepository } from './topups.repository';
import type { TopupsQuery } from './topups.schemas';

const encodeCursor = (t: TopupRow) => Buffer.from(`${t.createdAt.toISOString()}|${t.id}`).toString('base64url');

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at);
  if (!id || !isUuid(id) || Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== at)
    throw badRequest('Invalid cursor', [{ field: 'cursor', message: 'not a cursor from this API' }]);
  return { createdAt, id };
}

export const viewTopup = (t: TopupRow) => ({
  topupId: t.id,
  status: t.status,
  packageId: t.packageId,
  priceUsd: usdFromCents(t.priceCents),
  credits: formatCredits(money(t.credits).plus(t.bonusCredits)),
  paymentIntentId: t.paymentIntentId,
  failureCode: t.failureCode,
  recoveryUrl: t.recoveryUrl,
  createdAt: t.createdAt.toISOString(),
});

/** GET /v1/billing/topups: a user's attempts, newest first. */
export class TopupsList {
  constructor(private readonly repo: TopupsRepository) {}

  async list(userId: string, q: TopupsQuery) {
    const rows = await this.repo.list(userId, q.limit + 1, q.cursor ? decodeCursor(q.cursor) : undefined);
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    return { data: page.map(viewTopup), nextCursor: more ? encodeCursor(page[page.length - 1]) : null };
  }
}
