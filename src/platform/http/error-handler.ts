import type { NextFunction, Request, Response } from 'express';
import Stripe from 'stripe';
import { AppError, badRequest, internalError, notFound, payloadTooLarge, stripeUnavailable, unreadableBody, unsupportedMediaType } from '../errors';
import { sendProblem } from './problem';

interface HttpishError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
}

/** Body-parser and other http-errors carry a status; map the ones a client caused to clear 4xx. */
function fromHttpError(error: HttpishError): AppError | undefined {
  const status = error.status ?? error.statusCode;
  if (!status || status >= 500) return undefined;
  if (error.type === 'entity.parse.failed') return badRequest('The body is not valid JSON');
  if (error.type === 'entity.too.large') return payloadTooLarge();
  if (error.type === 'encoding.unsupported' || error.type === 'charset.unsupported') {
    return unsupportedMediaType('Unsupported body encoding');
  }
  return unreadableBody({ status });
}

/** Stripe down, slow or refusing is the payment provider's failure, not ours: 502, safe to retry. */
const fromStripe = () => stripeUnavailable({ detail: 'Stripe could not be reached or refused the request; retry later.' });

export function notFoundHandler(req: Request, _res: Response, next: NextFunction) {
  next(notFound(`No route for ${req.method} ${req.path}`));
}

// Express recognises error middleware by its four parameters.
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export function errorHandler(error: unknown, req: Request, res: Response, _next: NextFunction) {
  const appError = error instanceof AppError ? error : error instanceof Stripe.errors.StripeError ? fromStripe() : fromHttpError(error as HttpishError);
  if (appError) {
    if (appError.status >= 500) req.log.error({ err: error }, appError.title);
    return sendProblem(req, res, appError);
  }
  // Unknown failures are logged whole and answered with nothing that could leak SQL or a stack.
  req.log.error({ err: error }, 'unhandled error');
  if (res.headersSent) return res.destroy();
  sendProblem(req, res, internalError());
}
