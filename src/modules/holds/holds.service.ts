import { conflict, insufficientCredits, notFound, unprocessable } from '../../platform/errors';
import { payloadHash } from '../../platform/payload-hash';
import type { Metrics } from '../../platform/metrics';
import { formatCredits, money } from '../../platform/money';
import { isUuid } from '../../platform/uuid';
import type { CatalogService } from '../catalog/catalog.service';
import { DEFAULT_TTL_SECONDS, type HoldInput } from './holds.schemas';
import type { HoldsRepository, PlaceHoldRow } from './holds.repository';

export interface PlaceHoldResult {
  replayed: boolean;
  body: {
    holdId: string;
    requestId: string;
    userId: string;
    heldCredits: string;
    availableCredits: string;
    expiresAt: string;
  };
}

export class HoldsService {
  constructor(
    private readonly repo: HoldsRepository,
    private readonly catalog: CatalogService,
    private readonly metrics?: Metrics,
  ) {}

  async place(input: HoldInput, correlationId: string): Promise<PlaceHoldResult> {
    const family = await this.catalog.familyOf(input.model);
    const ttlSeconds = input.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    // The requestId identifies the call; everything else must match on a replay.
    const hash = payloadHash({
      model: input.model,
      maxInputTokens: input.maxInputTokens,
      maxOutputTokens: input.maxOutputTokens,
      ttlSeconds,
    });
    const row = await this.repo.place({ ...input, family, ttlSeconds, payloadHash: hash, correlationId });
    return this.interpret(input, row);
  }

  /** Ends an active hold; for a hold already ended it answers the current state, changing nothing. */
  async release(holdId: string) {
    if (!isUuid(holdId)) throw notFound(`No hold ${holdId}`);
    const row = await this.repo.release(holdId);
    if (row.outcome === 'not_found') throw notFound(`No hold ${holdId}`);
    if (row.outcome === 'released') this.metrics?.holdsEnded.inc({ outcome: 'released' });
    return {
      holdId: row.holdId,
      requestId: row.requestId,
      userId: row.userId,
      status: row.status,
      heldCredits: formatCredits(row.amount),
      expiresAt: row.expiresAt.toISOString(),
      endedAt: row.endedAt ? row.endedAt.toISOString() : null,
      balance: formatCredits(row.balance),
      availableCredits: formatCredits(row.available),
    };
  }

  private interpret(input: HoldInput, row: PlaceHoldRow): PlaceHoldResult {
    switch (row.outcome) {
      case 'unknown_model':
        throw unprocessable('unknown_model', `Model "${input.model}" has no rate card in force`);
      case 'mismatch':
        throw unprocessable(
          'request_id_reused',
          `requestId "${input.requestId}" already holds credits for a different payload`,
        );
      case 'already_charged':
        throw conflict(
          'request_already_charged',
          `requestId "${input.requestId}" was already charged; a hold for it would reserve for a call that has ended`,
        );
      case 'insufficient': {
        this.metrics?.insufficientFunds.inc({ operation: 'hold' });
        const required = money(row.amount!);
        const available = money(row.available!);
        throw insufficientCredits({ required, available });
      }
      case 'held':
      case 'replay':
        return {
          replayed: row.outcome === 'replay',
          body: {
            holdId: row.holdId!,
            requestId: input.requestId,
            userId: input.userId,
            heldCredits: formatCredits(row.amount),
            availableCredits: formatCredits(row.available),
            expiresAt: row.expiresAt!.toISOString(),
          },
        };
    }
  }
}
