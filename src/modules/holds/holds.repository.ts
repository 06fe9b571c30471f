import type { Database } from '../../platform/db/database';
import { timed, type Metrics } from '../../platform/metrics';

export interface PlaceHoldCommand {
  userId: string;
  requestId: string;
  model: string;
  family: string;
  maxInputTokens: number;
  maxOutputTokens: number;
  ttlSeconds: number;
  payloadHash: string;
  correlationId: string;
}

export interface PlaceHoldRow {
  outcome: 'held' | 'replay' | 'mismatch' | 'already_charged' | 'unknown_model' | 'insufficient';
  holdId: string | null;
  amount: string | null;
  available: string | null;
  expiresAt: Date | null;
}

export interface ReleaseHoldRow {
  outcome: 'released' | 'unchanged' | 'not_found';
  holdId: string;
  userId: string;
  requestId: string;
  amount: string;
  status: 'active' | 'settled' | 'released';
  expiresAt: Date;
  endedAt: Date | null;
  balance: string;
  available: string;
}

export interface SweepRow {
  newlyExpired: string;
  active: string;
  held: string;
  expiredUnsettled: string;
}

/** The leak gauge's window: a hold still open this long after its expiry counts, older ones have been reported. */
export const EXPIRED_RECENTLY_SECONDS = 15 * 60;
/** Wallets whose expired holds one sweep notes; the rest wait for the next run (every 15 s). */
const SWEEP_MAX_WALLETS = 1000;

export class HoldsRepository {
  constructor(
    private readonly db: Database,
    private readonly metrics?: Metrics,
  ) {}

  /** Replay check, wallet lock, pricing, availability and insert in one round trip: billing_place_hold. */
  async place(c: PlaceHoldCommand): Promise<PlaceHoldRow> {
    const rows = await timed(
      this.metrics,
      'place_hold',
      () =>
        this.db.prisma.$queryRaw<PlaceHoldRow[]>`
        SELECT outcome, hold_id::text AS "holdId", amount::text AS amount, available::text AS available,
               expires_at AS "expiresAt"
        FROM billing_place_hold(${c.userId}, ${c.requestId}, ${c.model}, ${c.family}, ${c.maxInputTokens}::bigint,
             ${c.maxOutputTokens}::bigint, ${c.ttlSeconds}::integer, ${c.payloadHash}, ${c.correlationId})`,
    );
    return rows[0];
  }

  async release(holdId: string): Promise<ReleaseHoldRow> {
    const rows = await timed(
      this.metrics,
      'release_hold',
      () =>
        this.db.prisma.$queryRaw<ReleaseHoldRow[]>`
        SELECT outcome, hold_id::text AS "holdId", user_id AS "userId", request_id AS "requestId",
               amount::text AS amount, status,
               expires_at AS "expiresAt", ended_at AS "endedAt", balance::text AS balance, available::text AS available
        FROM billing_release_hold(${holdId}::uuid)`,
    );
    return rows[0];
  }

  /**
   * Notes holds that passed expiry unsettled (once each, whichever replica sees them first) and
   * reads the gauges: billing_sweep_holds, which takes the wallet locks first, in user_id order, as
   * the charge path does. It writes only expiry_noted_at: availability already ignores an expired
   * hold, so no balance changes. `expiredUnsettled` counts holds expired within EXPIRED_RECENTLY.
   */
  async sweep(): Promise<SweepRow> {
    const rows = await timed(
      this.metrics,
      'sweep_holds',
      () =>
        this.db.prisma.$queryRaw<SweepRow[]>`
        SELECT newly_expired::text AS "newlyExpired", active::text AS active, held::text AS held,
               expired_unsettled::text AS "expiredUnsettled"
        FROM billing_sweep_holds(make_interval(secs => ${EXPIRED_RECENTLY_SECONDS}), ${SWEEP_MAX_WALLETS}::integer)`,
    );
    return rows[0];
  }
}
