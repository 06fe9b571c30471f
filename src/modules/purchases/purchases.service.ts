import { notFound, stripeNotConfigured, stripeUnavailable, unprocessable } from '../../platform/errors';
import { formatCredits, money, usdFromCents } from '../../platform/money';
import type { Principal } from '../../platform/auth/token-verifier';
import { SCOPES } from '../../platform/auth/auth.middleware';
import { CREDIT_PACKAGES, findPackage } from '../catalog/catalog.packages';
import type { CheckoutGateway } from './purchases.checkout';
import type { PurchaseRow, PurchasesRepository } from './purchases.repository';
import type { CardsService } from '../cards/cards.service';

export interface CheckoutUrls {
  success: string;
  cancel: string;
}

const withPurchase = (template: string, purchaseId: string) =>
  template.split('{PURCHASE_ID}').join(encodeURIComponent(purchaseId));

export class PurchasesService {
  constructor(
    private readonly repo: PurchasesRepository,
    private readonly checkout: CheckoutGateway | undefined,
    private readonly urls: CheckoutUrls,
    private readonly cards: CardsService,
  ) {}

  /**
   * The row is written before Stripe is called so a session can always be traced to its purchase.
   * saveCard: the session is made for the user's Customer and keeps the card for off-session use.
   */
  async start(userId: string, packageId: string, correlationId: string, options: { saveCard?: boolean } = {}) {
    const pkg = findPackage(packageId);
    if (!pkg) {
      throw unprocessable('unknown_package', `Unknown package "${packageId}"`, {
        knownPackages: CREDIT_PACKAGES.map((p) => p.id),
      });
    }
    if (!this.checkout) throw stripeNotConfigured('Card payments are not configured on this server.');
    const customerId = options.saveCard ? await this.cards.customerFor(userId) : undefined;
    const row = await this.repo.create({
      userId,
      packageId: pkg.id,
      priceCents: pkg.priceCents,
      credits: pkg.credits,
      bonusCredits: pkg.bonusCredits,
      correlationId,
    });
    let session: { id: string; url: string | null };
    try {
      session = await this.checkout.createSession({
        purchaseId: row.id,
        userId,
        pkg,
        customerId,
        successUrl: withPurchase(this.urls.success, row.id),
        cancelUrl: withPurchase(this.urls.cancel, row.id),
      });
    } catch (error) {
      await this.repo.markFailed(row.id, 'checkout_session_not_created');
      throw stripeUnavailable({ detail: 'Stripe did not create the Checkout Session; retry.', cause: error });
    }
    const linked = await this.repo.linkSession(row.id, session.id, session.url);
    return {
      purchaseId: linked.id,
      status: 'pending' as const,
      packageId: linked.packageId,
      priceUsd: usdFromCents(linked.priceCents),
      totalCredits: formatCredits(money(linked.credits.toString()).plus(linked.bonusCredits.toString())),
      checkoutUrl: linked.checkoutUrl,
      stripeCheckoutSessionId: linked.checkoutSessionId,
    };
  }

  /** Owner or billing:admin; anyone else gets the same 404 as for an id that does not exist. */
  async get(purchaseId: string, caller: Principal) {
    const row = await this.repo.find(purchaseId);
    if (!row || (row.userId !== caller.sub && !caller.scopes.has(SCOPES.admin))) throw notFound('No such purchase');
    return present(row);
  }
}

export function present(row: PurchaseRow) {
  const credits = money(row.credits.toString());
  const bonus = money(row.bonusCredits.toString());
  return {
    purchaseId: row.id,
    userId: row.userId,
    status: row.status,
    packageId: row.packageId,
    priceUsd: usdFromCents(row.priceCents),
    credits: formatCredits(credits),
    bonusCredits: formatCredits(bonus),
    totalCredits: formatCredits(credits.plus(bonus)),
    creditsRefunded: formatCredits(row.creditsRefunded.toString()),
    creditsDisputed: formatCredits(row.creditsDisputed.toString()),
    checkoutUrl: row.checkoutUrl,
    stripeCheckoutSessionId: row.checkoutSessionId,
    failureReason: row.failureReason,
    createdAt: row.createdAt.toISOString(),
    paidAt: row.paidAt ? row.paidAt.toISOString() : null,
  };
}
