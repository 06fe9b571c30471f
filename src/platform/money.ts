import Decimal from 'decimal.js';

// 38 significant digits covers NUMERIC(38,18) exactly; no float ever touches an amount.
export const Money = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -60, toExpPos: 60 });
export type Money = Decimal;

/**
 * A signed decimal string with at most 18 fractional digits, as the wire format allows, and at
 * most 15 integer digits so that no sum of amounts can overflow NUMERIC(38,18).
 */
export const DECIMAL_PATTERN = /^-?(0|[1-9]\d{0,14})(\.\d{1,18})?$/;

export const money = (value: string | number | Decimal): Decimal => new Money(value);

/** Plain notation, no exponent, trailing zeros trimmed: "50", "0.0006", "-12.5". */
export function formatCredits(value: string | Decimal | null | undefined): string {
  if (value === null || value === undefined) return '0';
  const d = new Money(value);
  return d.isZero() ? '0' : d.toFixed();
}

/** Exact USD from integer cents, two places: 1234 → "12.34". */
export const usdFromCents = (cents: number | string | null | undefined): string =>
  money(cents ?? 0)
    .div(100)
    .toFixed(2);

/**
 * Integer cents from a USD string with at most two places ("50", "12.5", "12.34"): computed in decimal,
 * then a whole number of cents, far below 2^53 for the amounts the schemas admit (like priceCents).
 */
export const centsFromUsd = (usd: string): number =>
  money(usd).times(100).toDecimalPlaces(0, Decimal.ROUND_DOWN).toNumber();
