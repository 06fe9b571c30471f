import { badRequest, conflict, notFound } from '../../platform/errors';
import type { EventRow, EventsRepository } from './events.repository';
import type { EventsQuery } from './events.schemas';

const encodeCursor = (seq: string) => Buffer.from(seq, 'utf8').toString('base64url');

function decodeCursor(cursor: string): string {
  const seq = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^\d{1,18}$/.test(seq))
    throw badRequest('Invalid cursor', [{ field: 'cursor', message: 'not a cursor from this API' }]);
  return seq;
}

const view = (r: EventRow) => ({
  eventId: r.eventId,
  type: r.type,
  userId: r.userId,
  status: r.status,
  attempts: r.attempts,
  lastAttemptAt: r.lastAttemptAt?.toISOString() ?? null,
  lastStatusCode: r.lastStatusCode,
  nextAttemptAt: r.nextAttemptAt?.toISOString() ?? null,
  createdAt: r.createdAt.toISOString(),
});

export class EventsService {
  constructor(private readonly repo: EventsRepository) {}

  async list(q: EventsQuery) {
    const rows = await this.repo.list({
      ...q,
      beforeSeq: q.cursor ? decodeCursor(q.cursor) : undefined,
      limit: q.limit + 1,
    });
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    return { data: page.map(view), nextCursor: more ? encodeCursor(page[page.length - 1].seq) : null };
  }

  async redeliver(eventId: string) {
    const row = await this.repo.redeliver(eventId);
    if (!row) throw notFound(`No event ${eventId}`);
    if (row === 'in_flight')
      throw conflict('delivery_in_progress', `Event ${eventId} is being delivered right now; try again shortly`);
    return view(row);
  }
}
