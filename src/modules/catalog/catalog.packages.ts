/**
 * The five credit packages of the contract. $1 = 1000 credits; bonuses grow with the package.
 * Kept in code, not a table: a price change is a release, and each purchase row records the
 * price and credits it was sold at.
 */
export interface CreditPackage {
  id: string;
  name: string;
  priceUsd: string;
  /** Stripe's smallest unit, for Checkout and for matching amount_total. */
  priceCents: number;
  credits: string;
  bonusCredits: string;
  totalCredits: string;
}

const pkg = (
  id: string,
  name: string,
  dollars: number,
  credits: string,
  bonusCredits: string,
  totalCredits: string,
): CreditPackage => ({
  id,
  name,
  priceUsd: `${dollars}.00`,
  priceCents: dollars * 100,
  credits,
  bonusCredits,
  totalCredits,
});

export const CREDIT_PACKAGES: readonly CreditPackage[] = [
  pkg('starter', 'Starter', 5, '5000', '0', '5000'),
  pkg('basic', 'Basic', 10, '10000', '500', '10500'),
  pkg('standard', 'Standard', 25, '25000', '2500', '27500'),
  pkg('pro', 'Pro', 50, '50000', '7500', '57500'),
  pkg('enterprise', 'Enterprise', 100, '100000', '20000', '120000'),
];

export const findPackage = (id: string) => CREDIT_PACKAGES.find((p) => p.id === id);
