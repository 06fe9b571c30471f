import { badRequest, conflict, unprocessable } from '../../platform/errors';
import { centsFromUsd, formatCredits, money, usdFromCents } from '../../platform/money';
import { CREDIT_PACKAGES, findPackage } from '../catalog/catalog.packages';
import type { SettingsRepository, SettingsRow } from './settings.repository';
import type { SettingsBody } from './settings.schemas';

const credits = (v: string | null | undefined) => (v === null || v === undefined ? null : formatCredits(v));

export class SettingsService {
  constructor(
    private readonly repo: SettingsRepository,
    /** AUTO_TOPUP_MIN_THRESHOLD_CREDITS: the lowest auto top-up threshold a user may choose. */
    private readonly minThresholdCredits: string,
  ) {}

  async get(userId: string) {
    return view(userId, await this.repo.find(userId));
  }

  async update(userId: string, body: SettingsBody) {
    if (body.autoTopUp) await this.changeAutoTopUp(userId, body.autoTopUp, await this.repo.find(userId));
    if (body.lowBalance) await this.repo.setLowBalanceThreshold(userId, body.lowBalance.thresholdCredits);
    return this.get(userId);
  }

  /** Fields left out keep their value; enabling needs all three, a known package and a limit that fits it. */
  private async changeAutoTopUp(userId: string, input: NonNullable<SettingsBody['autoTopUp']>, row?: SettingsRow) {
    // Checked first, as the answer a user without a card needs; the repository checks again under the lock.
    if (input.enabled && !row?.paymentMethodId) throw paymentMethodRequired();
    const thresholdCredits = input.thresholdCredits ?? row?.thresholdCredits ?? null;
    const packageId = input.packageId ?? row?.packageId ?? null;
    const limitCents =
      input.monthlyLimitUsd !== undefined ? centsFromUsd(input.monthlyLimitUsd) : numberOrNull(row?.monthlyLimitCents);
    const pkg = packageId === null ? undefined : findPackage(packageId);
    // What is checked: what the request gives, and everything when it enables. Turning auto top-up off
    // always works, even if the stored package has left the catalog since.
    const checks = {
      pkg: input.enabled || input.packageId !== undefined,
      threshold: input.enabled || input.thresholdCredits !== undefined,
    };
    if (checks.pkg && packageId !== null && !pkg) {
      throw unprocessable('unknown_package', `Unknown package "${packageId}"`, {
        knownPackages: CREDIT_PACKAGES.map((p) => p.id),
      });
    }
    if (checks.threshold && thresholdCredits !== null && money(thresholdCredits).lt(this.minThresholdCredits)) {
      throw badRequest('Invalid request', [
        { field: 'autoTopUp.thresholdCredits', message: `must be at least ${this.minThresholdCredits}` },
      ]);
    }
    const limitChecked = checks.pkg || input.monthlyLimitUsd !== undefined;
    if (limitChecked && pkg && limitCents !== null && limitCents < pkg.priceCents) {
      throw unprocessable(
        'monthly_limit_below_price',
        `monthlyLimitUsd ${usdFromCents(limitCents)} is below the package's price ${pkg.priceUsd}`,
      );
    }
    if (input.enabled) {
      const missing = [
        thresholdCredits === null && 'thresholdCredits',
        packageId === null && 'packageId',
        limitCents === null && 'monthlyLimitUsd',
      ].filter((f): f is string => Boolean(f));
      if (missing.length > 0) {
        throw badRequest(
          'Auto top-up needs a threshold, a package and a monthly limit',
          missing.map((f) => ({ field: `autoTopUp.${f}`, message: 'is required to enable auto top-up' })),
        );
      }
    }
    const outcome = await this.repo.changeAutoTopUp(userId, {
      enabled: input.enabled,
      thresholdCredits,
      packageId,
      priceCents: pkg?.priceCents ?? null,
      credits: pkg?.credits ?? null,
      bonusCredits: pkg?.bonusCredits ?? null,
      monthlyLimitCents: limitCents,
    });
    if (outcome === 'no_card') throw paymentMethodRequired();
  }
}

const paymentMethodRequired = () =>
  conflict('payment_method_required', 'Auto top-up needs a saved card; save one first');

const numberOrNull = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));

function view(userId: string, row?: SettingsRow) {
  return {
    userId,
    autoTopUp: {
      enabled: row?.status === 'active' || row?.status === 'paused',
      thresholdCredits: credits(row?.thresholdCredits),
      packageId: row?.packageId ?? null,
      monthlyLimitUsd: row?.monthlyLimitCents == null ? null : usdFromCents(row.monthlyLimitCents),
      status: row?.status ?? ('off' as const),
      pausedReason: row?.pausedReason ?? null,
      spentThisMonthUsd: usdFromCents(row?.spentThisMonthCents ?? 0),
    },
    lowBalance: { thresholdCredits: credits(row?.lowBalanceThresholdCredits) },
    paymentMethod:
      row?.paymentMethodId && row.brand && row.last4 && row.expMonth !== null && row.expYear !== null
        ? { brand: row.brand, last4: row.last4, expMonth: row.expMonth, expYear: row.expYear }
        : null,
  };
}
