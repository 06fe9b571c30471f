import type { CorsOptions } from 'cors';

/**
 * Only the CORS_ORIGINS allowlist gets CORS headers; any other origin gets none (the browser then
 * refuses to hand the response to the page). Preflights answer with the headers the frontend sends.
 */
export function corsOptions(origins: string[]): CorsOptions {
  return {
    origin: origins,
    methods: ['GET', 'HEAD', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Correlation-Id', 'Accept'],
    exposedHeaders: [
      'X-Correlation-Id',
      'Idempotent-Replayed',
      'Retry-After',
      'RateLimit',
      'RateLimit-Policy',
      'Content-Disposition',
      'Location',
      'X-Data-As-Of',
    ],
    maxAge: 600,
  };
}
