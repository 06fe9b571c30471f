/** The one error family: a stable machine code, an HTTP status and RFC 9457 extensions. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.name = 'AppError';
  }
}

export interface FieldIssue {
  field: string;
  message: string;
}

export const badRequest = (detail: string, errors: FieldIssue[] = []) =>
  new AppError(400, 'validation_failed', 'Invalid request', detail, errors.length ? { errors } : {});

export const unprocessable = (code: string, detail: string, extensions: Record<string, unknown> = {}) =>
  new AppError(422, code, 'Unprocessable request', detail, extensions);

export const notFound = (detail = 'No such resource') => new AppError(404, 'not_found', 'Not found', detail);

export const unauthorized = (detail: string) =>
  new AppError(401, 'unauthorized', 'Unauthorized', detail, {}, { 'WWW-Authenticate': 'Bearer realm="scholarlink-billing"' });

/** A bearer token was sent but is not acceptable (RFC 6750 §3.1 error code invalid_token). */
export const invalidToken = (detail: string) =>
  new AppError(401, 'invalid_token', 'Invalid token', detail, {}, { 'WWW-Authenticate': 'Bearer realm="scholarlink-billing", error="invalid_token"' });

export const forbidden = (detail: string) => new AppError(403, 'forbidden', 'Forbidden', detail);

export const conflict = (code: string, detail: string) => new AppError(409, code, 'Conflict', detail);

export const insufficientCredits = (required: string, available: string, shortfall: string) =>
  new AppError(402, 'insufficient_credits', 'Insufficient credits', `This requires ${required} credits but ${available} are available.`, {
    requiredCredits: required,
    availableCredits: available,
    shortfall,
  });
