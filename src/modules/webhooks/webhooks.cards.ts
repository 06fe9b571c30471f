import type { SavedCard } from '../cards/cards.gateway';
import type { Handled } from './webhooks.repository';
import { idOf, type Effects, type SessionObject } from './webhooks.events';
import { done, ignored, type RuleContext } from './webhooks.rules';

/**
 * checkout.session.completed in setup mode: the SetupIntent's card becomes the user's saved card.
 * Its details are read from Stripe inside the event's transaction; a failed lookup refuses the
 * event and Stripe delivers it again.
 */
export async function saveSetupCard(c: RuleContext, s: SessionObject): Promise<Handled<Effects>> {
  const userId = s.metadata?.userId;
  const customerId = idOf(s.customer);
  const setupIntentId = idOf(s.setup_intent);
  if (!userId || !customerId || !setupIntentId) return ignored('setup session without a user, Customer or SetupIntent');
  if (!c.cards) return ignored('Stripe is not configured: the card cannot be read');
  const card = await c.cards.cardOfSetupIntent(setupIntentId);
  if (!card) return ignored(`SetupIntent ${setupIntentId} has no card to save`);
  const saved = await c.tx.saveCard(userId, customerId, card);
  return done({}, saved ? `card ${card.brand} ${card.last4} saved` : `Customer ${customerId} is not the user's`);
}

/**
 * A purchase made with saveCard: the card it was paid with becomes the saved card. Best effort: a
 * failed lookup is a note on the event, never a reason to hold back the credit; the user can save
 * the card again from the settings page.
 */
export async function saveCardOfPurchase(
  c: RuleContext,
  s: SessionObject,
  userId: string,
  paymentIntentId: string,
): Promise<string | undefined> {
  const customerId = idOf(s.customer);
  if (!customerId || !c.cards) return 'card not saved: no Customer';
  let card: SavedCard | null;
  try {
    card = await c.cards.cardOfPaymentIntent(paymentIntentId);
  } catch (error) {
    return `card not saved: ${(error as Error).message}`.slice(0, 300);
  }
  if (!card) return 'card not saved: the payment has no card';
  // Outside the try: a database error must abort the event's transaction, not be swallowed inside it.
  await c.tx.saveCard(userId, customerId, card);
  return undefined;
}
