import type { Database } from '../../platform/db/database';
import type { SavedCard } from './cards.gateway';

/** Prisma's client or its interactive-transaction client: a card saved by a webhook commits with the event. */
type RawRunner = Pick<Database['prisma'], '$executeRaw'>;

export class CardsRepository {
  constructor(private readonly db: Database) {}

  async customerOf(userId: string): Promise<string | null> {
    const { rows } = await this.db.pool.query<{ id: string | null }>(
      `SELECT stripe_customer_id AS id FROM billing_settings WHERE user_id = $1`,
      [userId],
    );
    return rows[0]?.id ?? null;
  }

  /** The first Customer recorded stays: a racing request got the same one from Stripe anyway. */
  async recordCustomer(userId: string, customerId: string): Promise<string> {
    const { rows } = await this.db.pool.query<{ id: string }>(
      `INSERT INTO billing_settings (user_id, stripe_customer_id) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE
         SET stripe_customer_id = COALESCE(billing_settings.stripe_customer_id, EXCLUDED.stripe_customer_id),
             updated_at = now()
       RETURNING stripe_customer_id AS id`,
      [userId, customerId],
    );
    return rows[0].id;
  }
}

/**
 * The user's saved card becomes this one, if the Customer it was saved for is the user's. Returns
 * whether it was saved. Auto top-up keeps its state: attempts made from now on use the new card.
 */
export async function saveCard(runner: RawRunner, userId: string, customerId: string, card: SavedCard) {
  const saved = await runner.$executeRaw`
    UPDATE billing_settings SET payment_method_id = ${card.paymentMethodId}, card_brand = ${card.brand},
      card_last4 = ${card.last4}, card_exp_month = ${card.expMonth}, card_exp_year = ${card.expYear}, updated_at = now()
    WHERE user_id = ${userId} AND stripe_customer_id = ${customerId}`;
  return saved > 0;
}
