import { z } from 'zod';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positive = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    PORT: port(3000),
    HOST: z.string().default('0.0.0.0'),
    DATABASE_URL: z.string().url().optional(),
    DATABASE_POOL_MIN: z.coerce.number().int().min(0).default(2),
    DATABASE_POOL_MAX: positive(10),
    // A streaming replica for history, exports and reports (docs/read-replica.md); absent: all on the primary.
    DATABASE_READ_URL: z.string().url().optional(),
    DATABASE_READ_POOL_MIN: z.coerce.number().int().min(0).default(0),
    DATABASE_READ_POOL_MAX: positive(5),
    READ_REPLICA_MAX_LAG_SECONDS: z.coerce.number().positive().max(3600).default(5),
    JWT_PUBLIC_KEY: z.string().optional(),
    JWT_JWKS_URL: z.string().url().optional(),
    JWT_ISSUER: z.string().optional(),
    JWT_AUDIENCE: z.string().optional(),
    STRIPE_SECRET_KEY: z.string().optional(),
    STRIPE_WEBHOOK_SECRET: z.string().optional(),
    STRIPE_API_BASE_URL: z.string().url().optional(),
    CHECKOUT_SUCCESS_URL: z.string().url().default('http://localhost:5173/credits/success?purchaseId={PURCHASE_ID}'),
    CHECKOUT_CANCEL_URL: z.string().url().default('http://localhost:5173/credits/cancel?purchaseId={PURCHASE_ID}'),
    // Where Stripe sends the user back after saving a card (Checkout in setup mode), done or cancelled.
    CARD_SETUP_RETURN_URL: z.string().url().default('http://localhost:5173/billing/settings'),
    CORS_ORIGINS: z.string().default(''),
    RATE_LIMIT_PER_MINUTE: positive(100),
    SERVICE_RATE_LIMIT_PER_MINUTE: positive(60000),
    REDIS_URL: z.string().url().optional(),
    AWS_SECRETS_MANAGER_SECRET_ID: z.string().optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LEDGER_CHECK_INTERVAL_SECONDS: z.coerce.number().int().min(0).default(3600),
    SHUTDOWN_GRACE_SECONDS: positive(25),
    // Readiness reports 503 this long before the listener closes, so endpoints stop routing to us first.
    SHUTDOWN_DRAIN_SECONDS: z.coerce.number().min(0).max(60).default(5),
    // Outbound events (docs/events.md): where they are posted, and the Standard Webhooks signing secret.
    EVENTS_WEBHOOK_URL: z.string().url().optional(),
    EVENTS_WEBHOOK_SECRET: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/]{24,}={0,2}$/, 'must be whsec_ followed by a base64 key')
      .optional(),
    // Auto top-up (docs/auto-topup.md): failures in a row that pause it, the lowest threshold a user may
    // set, and how long a worker's claim on an attempt lasts before another replica may take it over.
    AUTO_TOPUP_MAX_FAILURES: positive(3),
    AUTO_TOPUP_MIN_THRESHOLD_CREDITS: z
      .string()
      .regex(/^(0|[1-9]\d{0,14})(\.\d{1,18})?$/, 'must be a non-negative decimal number of credits')
      .default('0'),
    AUTO_TOPUP_LEASE_SECONDS: z.coerce.number().int().min(1).max(600).default(45),
  })
  .superRefine((env, ctx) => {
    if (env.DATABASE_POOL_MIN > env.DATABASE_POOL_MAX) {
      ctx.addIssue({ code: 'custom', path: ['DATABASE_POOL_MIN'], message: 'must not exceed DATABASE_POOL_MAX' });
    }
    if (env.DATABASE_READ_POOL_MIN > env.DATABASE_READ_POOL_MAX) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_READ_POOL_MIN'],
        message: 'must not exceed DATABASE_READ_POOL_MAX',
      });
    }
    if (env.SHUTDOWN_DRAIN_SECONDS >= env.SHUTDOWN_GRACE_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['SHUTDOWN_DRAIN_SECONDS'],
        message: 'must be shorter than SHUTDOWN_GRACE_SECONDS',
      });
    }
    if (env.EVENTS_WEBHOOK_URL && !env.EVENTS_WEBHOOK_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['EVENTS_WEBHOOK_SECRET'],
        message: 'is required when EVENTS_WEBHOOK_URL is set',
      });
    }
    if (env.NODE_ENV !== 'production') return;
    const required = ['DATABASE_URL', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'] as const;
    for (const key of required) {
      if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required in production' });
    }
    if (!env.JWT_PUBLIC_KEY && !env.JWT_JWKS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_PUBLIC_KEY'],
        message: 'JWT_PUBLIC_KEY or JWT_JWKS_URL is required in production',
      });
    }
  });

export type Config = Omit<z.infer<typeof schema>, 'CORS_ORIGINS' | 'JWT_PUBLIC_KEY'> & {
  CORS_ORIGINS: string[];
  JWT_PUBLIC_KEY?: string;
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment once; the message names every offending variable, never its value. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const c = result.data;
  return {
    ...c,
    // Kubernetes secrets and .env files often carry PEMs with literal "\n".
    JWT_PUBLIC_KEY: c.JWT_PUBLIC_KEY?.replace(/\\n/g, '\n'),
    CORS_ORIGINS: c.CORS_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  };
}
