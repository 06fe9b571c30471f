import type { Logger } from 'pino';
import type { Principal } from '../auth/token-verifier';

declare global {
  namespace Express {
    interface Request {
      correlationId: string;
      principal?: Principal;
      log: Logger;
      /** The raw bytes, kept only where a signature is checked (the Stripe webhook). */
      rawBody?: Buffer;
    }
  }
}

export {};
