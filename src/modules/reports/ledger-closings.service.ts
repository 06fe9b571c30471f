import type { LedgerClosingsRepository } from './ledger-closings.repository';

const DAY_MS = 24 * 3600_000;

export interface LedgerClosingsOptions {
  /**
   * How long after a UTC midnight its day may close. A transaction's rows carry its start time; one
   * that began before midnight and commits later must be in the snapshot that closes the day. The
   * ledger's transactions last milliseconds; an hour is far above them (docs/ledger-check.md).
   */
  marginMs?: number;
  /** At most this many periods per call, so catching up on a long history is spread over runs. */
  maxPeriods?: number;
}

const startOfUtcDay = (d: Date) => new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS);

/**
 * Closes the books per UTC day: once a day is older than the margin, its closing balances are
 * written (on the primary), and the next checks start from them. Safe to run from every pod at
 * once: a period closes once (primary key), a second attempt does nothing.
 */
export class LedgerClosings {
  private readonly marginMs: number;
  private readonly maxPeriods: number;

  constructor(
    private readonly repo: LedgerClosingsRepository,
    options: LedgerClosingsOptions = {},
  ) {
    this.marginMs = options.marginMs ?? 3600_000;
    this.maxPeriods = options.maxPeriods ?? 400;
  }

  /** Closes every due period in order; returns the ends of the periods this call closed. */
  async closeDuePeriods(now = new Date()): Promise<Date[]> {
    const closed: Date[] = [];
    for (let i = 0; i < this.maxPeriods; i++) {
      const { end: last, firstTransactionAt } = await this.repo.lastClosing();
      if (!last && !firstTransactionAt) break;
      const end = last
        ? new Date(last.getTime() + DAY_MS)
        : new Date(startOfUtcDay(firstTransactionAt as Date).getTime() + DAY_MS);
      if (end.getTime() + this.marginMs > now.getTime()) break;
      if (await this.repo.close({ start: last, end })) closed.push(end);
    }
    return closed;
  }
}
