import type Decimal from 'decimal.js';
import { formatCredits } from './money';

export interface ProblemOptions {
  /** What went wrong in this case; the title when absent. */
  detail?: string;
  /** RFC 9457 extension members, added to the problem body. */
  extensions?: Record<string, unknown>;
  headers?: Record<string, string>;
  /** The failure behind this one, for the log (never sent). */
  cause?: unknown;
}

/**
 * The one error family: a stable machine code, an HTTP status and RFC 9457 extensions. Built only
 * by the named constructors below, so each code keeps one status and one title.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail?: string;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(problem: { status: number; code: string; title: string } & ProblemOptions) {
    super(problem.detail ?? problem.title, problem.cause === undefined ? undefined : { cause: problem.cause });
    this.name = 'AppError';
    this.status = problem.status;
    this.code = problem.code;
    this.title = problem.title;
    this.detail = problem.detail;
    this.extensions = problem.extensions ?? {};
    this.headers = problem.headers ?? {};
  }
}

const problem = (status: number, code: string, title: string, options: ProblemOptions = {}) =>
  new AppError({ status, code, title, ...options });

export interface FieldIssue {
  field: string;
  message: string;
}

export const badRequest = (detail: string, errors: FieldIssue[] = []) =>
  problem(400, 'validation_failed', 'Invalid request', { detail, extensions: errors.length ? { errors } : {} });

/** A body that could not be read; `status` is the 4xx the body parser chose (400 unless it knew better). */
export const unreadableBody = (options: { detail?: string; status?: number } = {}) =>
  problem(options.status ?? 400, 'bad_request', 'Bad request', {
    detail: options.detail ?? 'The request could not be read',
  });

export const payloadTooLarge = () =>
  problem(413, 'payload_too_large', 'Payload too large', { detail: 'The request body is too large' });

export const unsupportedMediaType = (detail: string) =>
  problem(415, 'unsupported_media_type', 'Unsupported media type', { detail });

export const invalidSignature = (detail: string) => problem(400, 'invalid_signature', 'Invalid signature', { detail });

/** A request body whose objects and arrays nest deeper than `maxDepth`. */
export const jsonTooDeep = (maxDepth: number) =>
  problem(400, 'json_too_deep', 'JSON nested too deeply', {
    detail: `Objects and arrays in the body may nest at most ${maxDepth} levels deep`,
    extensions: { maxDepth },
  });

/** A validly signed webhook body that is not a well-formed event; `field` names the first fault. */
export const malformedEvent = (field: string) =>
  problem(400, 'malformed_event', 'Malformed event', {
    detail: `The signed event is not a well-formed Stripe event (${field}).`,
    extensions: { errors: [{ field, message: 'missing or malformed' }] },
  });

export const unprocessable = (code: string, detail: string, extensions: Record<string, unknown> = {}) =>
  problem(422, code, 'Unprocessable request', { detail, extensions });

export const notFound = (detail = 'No such resource') => problem(404, 'not_found', 'Not found', { detail });

export const methodNotAllowed = (options: { method: string; allow: string }) =>
  problem(405, 'method_not_allowed', 'Method not allowed', {
    detail: `${options.method} is not allowed here; use ${options.allow}`,
    headers: { Allow: options.allow },
  });

export const unauthorized = (detail: string) =>
  problem(401, 'unauthorized', 'Unauthorized', {
    detail,
    headers: { 'WWW-Authenticate': 'Bearer realm="scholarlink-billing"' },
  });

/** A bearer token was sent but is not acceptable (RFC 6750 §3.1 error code invalid_token). */
export const invalidToken = (detail: string) =>
  problem(401, 'invalid_token', 'Invalid token', {
    detail,
    headers: { 'WWW-Authenticate': 'Bearer realm="scholarlink-billing", error="invalid_token"' },
  });

export const forbidden = (detail: string) => problem(403, 'forbidden', 'Forbidden', { detail });

export const conflict = (code: string, detail: string) => problem(409, code, 'Conflict', { detail });

export const rateLimited = (options: { retryAfterSeconds: number | string }) =>
  problem(429, 'rate_limited', 'Too many requests', {
    detail: `Rate limit exceeded; retry in ${options.retryAfterSeconds} s.`,
  });

/** 402: the charge, hold or take-back needs `required` credits and the wallet has `available`. */
export const insufficientCredits = (options: { required: Decimal; available: Decimal }) => {
  const [required, available] = [formatCredits(options.required), formatCredits(options.available)];
  return problem(402, 'insufficient_credits', 'Insufficient credits', {
    detail: `This requires ${required} credits but ${available} are available.`,
    extensions: {
      requiredCredits: required,
      availableCredits: available,
      shortfall: formatCredits(options.required.minus(options.available)),
    },
  });
};

/** 503 for a feature that needs Stripe on a server without a Stripe key; `detail` names the feature. */
export const stripeNotConfigured = (detail: string) =>
  problem(503, 'stripe_not_configured', 'Stripe not configured', { detail, headers: { 'Retry-After': '60' } });

export const stripeUnavailable = (options: { detail: string; cause?: unknown }) =>
  problem(502, 'stripe_unavailable', 'Payment provider unavailable', options);

export const webhookProcessingFailed = (cause: unknown) =>
  problem(500, 'webhook_processing_failed', 'Webhook processing failed', {
    detail: 'The event was not applied; Stripe will retry it.',
    cause,
  });

export const internalError = () =>
  problem(500, 'internal_error', 'Internal server error', {
    detail: 'Something went wrong; retry with the same Idempotency-Key.',
  });

/** Seconds a caller waits before retrying a database fault: a new connection is made on the next query. */
export const DATABASE_RETRY_AFTER_SECONDS = 1;

/** 503: the database could not be reached or dropped the connection; safe to retry with the same key. */
export const databaseUnavailable = (options: { cause?: unknown } = {}) =>
  problem(503, 'database_unavailable', 'Database unavailable', {
    detail:
      'The database could not be reached or dropped the connection; retry with the same requestId or Idempotency-Key.',
    headers: { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) },
    cause: options.cause,
  });
