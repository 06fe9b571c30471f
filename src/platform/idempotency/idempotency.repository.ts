import type { Database } from '../db/database';

export interface StoredResponse {
  state: 'in_progress' | 'completed';
  requestHash: string;
  statusCode: number | null;
  responseBody: unknown;
}

// A claim left in progress this long belongs to a crashed request and may be taken over. Every
// request here finishes in seconds; five minutes leaves no doubt the first one is gone.
const STALE_AFTER_SECONDS = 300;

export class IdempotencyRepository {
  constructor(private readonly db: Database) {}

  /** True when this call now owns the key (new, or taken over from a crashed request with the same payload). */
  async claim(caller: string, key: string, method: string, path: string, requestHash: string): Promise<boolean> {
    const count = await this.db.prisma.$executeRaw`
      INSERT INTO idempotency_keys (caller, key, method, path, request_hash)
      VALUES (${caller}, ${key}, ${method}, ${path}, ${requestHash})
      ON CONFLICT (caller, key) DO UPDATE SET created_at = now()
        WHERE idempotency_keys.state = 'in_progress' AND idempotency_keys.request_hash = EXCLUDED.request_hash
          AND idempotency_keys.created_at < now() - make_interval(secs => ${STALE_AFTER_SECONDS})`;
    return count === 1;
  }

  async find(caller: string, key: string): Promise<StoredResponse | undefined> {
    const row = await this.db.prisma.idempotencyKey.findUnique({ where: { caller_key: { caller, key } } });
    return row
      ? {
          state: row.state as StoredResponse['state'],
          requestHash: row.requestHash,
          statusCode: row.statusCode,
          responseBody: row.responseBody,
        }
      : undefined;
  }

  async complete(caller: string, key: string, statusCode: number, body: unknown): Promise<void> {
    await this.db.prisma.idempotencyKey.update({
      where: { caller_key: { caller, key } },
      data: { state: 'completed', statusCode, responseBody: body as object, completedAt: new Date() },
    });
  }

  async release(caller: string, key: string): Promise<void> {
    await this.db.prisma.idempotencyKey.deleteMany({ where: { caller, key, state: 'in_progress' } });
  }

  /** Keys are kept at least 24 hours (contract); older ones may be removed by a periodic sweep. */
  async purgeOlderThan(hours: number): Promise<number> {
    const { count } = await this.db.prisma.idempotencyKey.deleteMany({
      where: { createdAt: { lt: new Date(Date.now() - hours * 3600_000) } },
    });
    return count;
  }
}
