import type { NextFunction, Request, Response } from 'express';
import Stripe from 'stripe';
import {
  AppError,
  badRequest,
  databaseUnavailable,
  internalError,
  notFound,
  payloadTooLarge,
  stripeUnavailable,
  unreadableBody,
  unsupportedMediaType,
} from '../errors';
import { isDatabaseUnavailable } from '../db/db-faults';
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

/**
 * What a failure means to the caller. A database fault (unreachable, connection dropped, pool
 * exhausted) is retryable, never a 500: the caller retries with the same requestId.
 */
function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error instanceof Stripe.errors.StripeError) return fromStripe();
  // First: a client that left mid-body is raw-body's 400 with code ECONNABORTED, not a database fault.
  const fromClient = fromHttpError(error as HttpishError);
  if (fromClient) return fromClient;
  if (isDatabaseUnavailable(error)) return databaseUnavailable();
  return undefined;
}

/** Stripe down, slow or refusing is the payment provider's failure, not ours: 502, safe to retry. */
const fromStripe = () =>
  stripeUnavailable({ detail: 'Stripe could not be reached or refused the request; retry later.' });

export function notFoundHandler(req: Request, _res: Response, next: NextFunction) {
  next(notFound(`No route for ${req.method} ${req.path}`));
}

// Express recognises error middleware by its four parameters.
export function errorHandler(error: unknown, req: Request, res: Response, _next: NextFunction) {
  const appError = toAppError(error);
  if (appError) {
    if (appError.status >= 500) req.log.error({ err: error }, appError.title);
    // A failure half-way through a streamed body (a CSV export) can only cut the response short.
    if (res.headersSent) return res.destroy();
    return sendProblem(req, res, appError);
  }
  // Unknown failures are logged whole and answered with nothing that could leak SQL or a stack.
  req.log.error({ err: error }, 'unhandled error');
  if (res.headersSent) return res.destroy();
  sendProblem(req, res, internalError());
}
