import type { Express } from 'express';
import { createApp, type AppDeps } from '../../src/app';
import { buildServices, type ServiceDeps, type Services } from '../../src/composition';
import { parseConfig, type Config } from '../../src/platform/config';
import { createLogger } from '../../src/platform/logger';
import { createMetrics, type Metrics } from '../../src/platform/metrics';
import { createTokenVerifier } from '../../src/platform/auth/token-verifier';
import { createTestDatabase, type TestDatabase } from './database';
import { makeKeyPair, signToken, type KeyPair, type TokenOptions } from './keys';

export const ISSUER = 'https://auth.scholarlink.test/';
export const AUDIENCE = 'scholarlink-billing';

/** What a test may swap: the app's own options and the inputs of the composition root. */
type TestDeps = Partial<Omit<AppDeps, 'services'>> & Partial<Pick<ServiceDeps, 'db' | 'reads' | 'stripe'>>;

export interface TestApp {
  app: Express;
  /** The services the app was built with, as server.ts shares them with the background jobs. */
  services: Services;
  database: TestDatabase;
  keys: KeyPair;
  config: Config;
  metrics: Metrics;
  token(sub: string, options?: TokenOptions): string;
  /** Tokens for the three callers of the contract. */
  gateway: string;
  admin: string;
  close(): Promise<void>;
}

export async function createTestApp(
  options: { env?: Record<string, string>; deps?: TestDeps; database?: TestDatabase } = {},
): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase());
  const keys = makeKeyPair();
  // Rate limits are tested on their own (test/edge/rate-limit.test.ts); elsewhere they would only
  // turn a busy test's requests into 429s.
  const unlimited = { RATE_LIMIT_PER_MINUTE: '1000000', SERVICE_RATE_LIMIT_PER_MINUTE: '1000000' };
  const config = parseConfig({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    LOG_LEVEL: 'silent',
    ...unlimited,
    ...options.env,
  });
  const metrics = createMetrics();
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const verifier = createTokenVerifier({ publicKey: keys.publicKey, issuer: ISSUER, audience: AUDIENCE });
  const { db, reads, stripe, ...appOptions } = options.deps ?? {};
  const appDeps = { config, logger, verifier, metrics, ...appOptions };
  const services = buildServices({
    config,
    db: db ?? database.db,
    metrics: appDeps.metrics,
    logger: appDeps.logger,
    reads,
    stripe,
  });
  const app = createApp({ ...appDeps, services });
  const token = (sub: string, o: TokenOptions = {}) =>
    signToken(keys, sub, { issuer: ISSUER, audience: AUDIENCE, ...o });
  return {
    app,
    services,
    database,
    keys,
    config,
    metrics,
    token,
    gateway: token('llm-gateway', { scope: 'usage:write' }),
    admin: token('finance-admin', { scope: 'billing:admin' }),
    close: () => database.drop(),
  };
}
