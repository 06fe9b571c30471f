import type { Database } from '../../platform/db/database';

export interface RateCardRow {
  model: string;
  inputUsdPer1M: string;
  cachedInputUsdPer1M: string | null;
  outputUsdPer1M: string;
  markup: string;
  effectiveFrom: Date;
}

export class CatalogRepository {
  constructor(private readonly db: Database) {}

  /** The card in force now for each model: the latest whose effective_from has passed. */
  async currentRateCards(): Promise<RateCardRow[]> {
    return this.db.prisma.$queryRaw<RateCardRow[]>`
      SELECT DISTINCT ON (model) model, input_usd_per_1m::text AS "inputUsdPer1M",
             cached_input_usd_per_1m::text AS "cachedInputUsdPer1M", output_usd_per_1m::text AS "outputUsdPer1M",
             markup::text AS markup, effective_from AS "effectiveFrom"
      FROM rate_cards WHERE effective_from <= now() ORDER BY model, effective_from DESC`;
  }

  /** Every model that has a card, in force or scheduled. */
  async knownModels(): Promise<string[]> {
    const rows = await this.db.prisma.rateCard.findMany({
      distinct: ['model'],
      select: { model: true },
      orderBy: { model: 'asc' },
    });
    return rows.map((r) => r.model);
  }
}
