import { stripeNotConfigured, stripeUnavailable } from '../../platform/errors';
import type { CardsGateway } from './cards.gateway';
import type { CardsRepository } from './cards.repository';

/** The user's Stripe Customer (created once) and saving a card through Checkout in setup mode. */
export class CardsService {
  constructor(
    private readonly repo: CardsRepository,
    private readonly gateway: CardsGateway | undefined,
    private readonly returnUrl: string,
  ) {}

  /** The user's Customer id, created at Stripe the first time it is needed. */
  async customerFor(userId: string): Promise<string> {
    const known = await this.repo.customerOf(userId);
    if (known) return known;
    const gateway = this.configured();
    let created: string;
    try {
      created = await gateway.createCustomer(userId);
    } catch (error) {
      throw stripeUnavailable({ detail: 'Stripe did not create the customer; retry.', cause: error });
    }
    return this.repo.recordCustomer(userId, created);
  }

  async startSetup(userId: string) {
    const customerId = await this.customerFor(userId);
    const gateway = this.configured();
    try {
      const session = await gateway.createSetupSession({ userId, customerId, returnUrl: this.returnUrl });
      return { checkoutUrl: session.url, stripeCheckoutSessionId: session.id };
    } catch (error) {
      throw stripeUnavailable({ detail: 'Stripe did not create the Checkout Session; retry.', cause: error });
    }
  }

  private configured(): CardsGateway {
    if (!this.gateway) throw stripeNotConfigured('Card payments are not configured on this server.');
    return this.gateway;
  }
}
