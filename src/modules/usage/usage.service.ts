import { insufficientCredits, unprocessable } from '../../platform/errors';
import { payloadHash } from '../../platform/payload-hash';
import type { Metrics } from '../../platform/metrics';
import { formatCredits, money } from '../../platform/money';
import type { CatalogService } from '../catalog/catalog.service';
import type { ReconcileInput } from './usage.schemas';
import type { ChargeRow, UsageRepository } from './usage.repository';

export interface ReconcileResult {
  replayed: boolean;
  body: {
    usageId: string;
    requestId: string;
    userId: string;
    model: string;
    credits: string;
    balance: string;
    transactionId: string | null;
    correlationId: string | null;
  };
}

export class UsageService {
  constructor(
    private readonly repo: UsageRepository,
    private readonly catalog: CatalogService,
    private readonly metrics?: Metrics,
  ) {}

  async reconcile(input: ReconcileInput, correlationId: string): Promise<ReconcileResult> {
    const family = await this.catalog.familyOf(input.model).catch((error: unknown) => {
      this.count('unknown_model');
      throw error;
    });
    const cachedInputTokens = input.cachedInputTokens ?? 0;
    // The requestId identifies the call; everything else must match on a replay.
    const hash = payloadHash({
      model: input.model,
      inputTokens: input.inputTokens,
      outputTokens: input.outputTokens,
      cachedInputTokens,
      metadata: input.metadata,
    });
    // Spelled out rather than spread from the parsed body (whose optional fields vary):
    // one object shape for every charge
    const row = await this.repo.charge({
      userId: input.userId,
      requestId: input.requestId,
      model: input.model,
      family,
      inputTokens: input.inputTokens,
      outputTokens: input.outputTokens,
      cachedInputTokens,
      payloadHash: hash,
      correlationId,
      metadata: input.metadata,
    });
    return this.interpret(input, family, row);
  }

  private interpret(input: ReconcileInput, family: string, row: ChargeRow): ReconcileResult {
    switch (row.outcome) {
      case 'unknown_model':
        this.count('unknown_model');
        throw unprocessable('unknown_model', `Model "${input.model}" has no rate card in force`);
      case 'mismatch':
        this.count('mismatch');
        throw unprocessable(
          'request_id_reused',
          `requestId "${input.requestId}" was already charged with a different payload`,
        );
      case 'insufficient': {
        this.count('insufficient_credits');
        this.metrics?.insufficientFunds.inc({ operation: 'charge' });
        const required = money(row.credits!);
        const available = money(row.available!);
        throw insufficientCredits({ required, available });
      }
      case 'replay':
      case 'charged': {
        const replayed = row.outcome === 'replay';
        this.count(replayed ? 'replayed' : row.holdId ? 'settled' : 'charged');
        // Labelled by the rate card's model (a closed set), never the caller's spelling of it;
        // metric only, never the books
        if (!replayed) this.metrics?.creditsDebited.inc({ model: family }, Number(row.credits));
        if (!replayed && row.holdId) this.settled(row);
        return {
          replayed,
          body: {
            usageId: row.usageId!,
            requestId: input.requestId,
            userId: input.userId,
            model: row.model ?? input.model,
            credits: formatCredits(row.credits),
            balance: formatCredits(row.balance),
            transactionId: row.transactionId,
            correlationId: row.correlationId,
          },
        };
      }
    }
  }

  /** A settle charges the actual cost in full; what exceeds the reservation is the overage. */
  private settled(row: ChargeRow) {
    this.metrics?.holdsEnded.inc({ outcome: 'settled' });
    // hold committed after this statement's snapshot: no reservation to compare with
    if (row.heldCredits === null) return;
    const overage = money(row.credits!).minus(row.heldCredits);
    if (overage.gt(0)) this.metrics?.holdSettleOverage.inc(overage.toNumber()); // metric only, never the books
  }

  private count(outcome: string) {
    this.metrics?.usageReconciliations.inc({ outcome });
  }
}
