import { unprocessable } from '../../platform/errors';
import { formatCredits } from '../../platform/money';
import { CREDIT_PACKAGES } from './catalog.packages';
import type { CatalogRepository } from './catalog.repository';

// Dated snapshots resolve to their family: gpt-4o-2024-05-13 → gpt-4o, gpt-3.5-turbo-0125 → gpt-3.5-turbo.
const SNAPSHOT_SUFFIX = /-(?:(\d{4})-(\d{2})-(\d{2})|(\d{2})(\d{2}))$/;
const DAY_MS = 86_400_000;

/**
 * Whether a snapshot suffix names a real day: YYYY-MM-DD no later than tomorrow (UTC; no snapshot is
 * dated in the future, a day of slack for time zones), MMDD a real month and day. gpt-4o-9999-99-99 is
 * no snapshot, and priced as one it would be a new name in every report.
 */
export function isSnapshotDate(m: RegExpExecArray, now = Date.now()): boolean {
  // 2000: Feb 29 exists
  const [year, month, day] = m[1] ? [Number(m[1]), Number(m[2]), Number(m[3])] : [2000, Number(m[4]), Number(m[5])];
  const date = new Date(Date.UTC(year, month - 1, day));
  const real = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return real && (!m[1] || date.getTime() <= now + DAY_MS);
}
const MODELS_TTL_MS = 60_000;

export class CatalogService {
  private models: { names: Set<string>; loadedAt: number } = { names: new Set(), loadedAt: 0 };

  constructor(private readonly repo: CatalogRepository) {}

  listPackages() {
    return CREDIT_PACKAGES.map(({ priceCents: _cents, ...p }) => p);
  }

  async listRateCards() {
    const cards = await this.repo.currentRateCards();
    return cards.map((c) => ({
      model: c.model,
      inputUsdPer1M: formatCredits(c.inputUsdPer1M),
      outputUsdPer1M: formatCredits(c.outputUsdPer1M),
      cachedInputUsdPer1M: c.cachedInputUsdPer1M === null ? null : formatCredits(c.cachedInputUsdPer1M),
      markup: formatCredits(c.markup),
      effectiveFrom: c.effectiveFrom.toISOString(),
    }));
  }

  /**
   * The card family a model name is priced by, or undefined with the known names for the 422
   * (`known` is empty on a match).
   */
  /** The card family a model is priced by; an unknown model is the contract's 422 naming the known ones. */
  async familyOf(model: string): Promise<string> {
    const { family, known } = await this.resolveModel(model);
    if (!family)
      throw unprocessable('unknown_model', `Unknown model "${model}". Known models: ${known.join(', ')}`, {
        knownModels: known,
      });
    return family;
  }

  async resolveModel(model: string): Promise<{ family?: string; known: string[] }> {
    let names = await this.knownModels(false);
    let family = this.match(model, names);
    if (!family) {
      names = await this.knownModels(true); // a card added since the last load
      family = this.match(model, names);
    }
    // Copying and sorting every model name on each charge only serves the 422's list: build it for that alone.
    return { family, known: family ? [] : [...names].sort() };
  }

  private match(model: string, names: Set<string>): string | undefined {
    if (names.has(model)) return model;
    const snapshot = SNAPSHOT_SUFFIX.exec(model);
    if (!snapshot || !isSnapshotDate(snapshot)) return undefined;
    const family = model.slice(0, snapshot.index);
    return names.has(family) ? family : undefined;
  }

  private async knownModels(refresh: boolean): Promise<Set<string>> {
    const age = Date.now() - this.models.loadedAt;
    if (age > MODELS_TTL_MS || (refresh && age > 1000)) {
      this.models = { names: new Set(await this.repo.knownModels()), loadedAt: Date.now() };
    }
    return this.models.names;
  }
}
