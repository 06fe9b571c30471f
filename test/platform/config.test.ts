import { ConfigError, parseConfig } from '../../src/platform/config';

describe('configuration', () => {
  it('has the contract defaults', () => {
    const c = parseConfig({});
    expect(c).toMatchObject({
      PORT: 3000,
      DATABASE_POOL_MIN: 2,
      DATABASE_POOL_MAX: 10,
      RATE_LIMIT_PER_MINUTE: 100,
      SERVICE_RATE_LIMIT_PER_MINUTE: 60000,
      NODE_ENV: 'development',
    });
    expect(c.DATABASE_URL).toBeUndefined();
  });

  it('in production, stops on every missing database, key and Stripe secret, naming each', () => {
    expect(() => parseConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    try {
      parseConfig({ NODE_ENV: 'production' });
    } catch (error) {
      const message = (error as Error).message;
      for (const name of ['DATABASE_URL', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'JWT_PUBLIC_KEY'])
        expect(message).toContain(name);
    }
  });

  it('names a malformed value without echoing it', () => {
    expect(() => parseConfig({ PORT: 'eighty', DATABASE_URL: 'not a url with secret-password' })).toThrow(
      /PORT.*DATABASE_URL|DATABASE_URL.*PORT/,
    );
    expect(() => parseConfig({ DATABASE_URL: 'not a url with secret-password' })).not.toThrow(/secret-password/);
    expect(() => parseConfig({ DATABASE_POOL_MIN: '20', DATABASE_POOL_MAX: '10' })).toThrow(/DATABASE_POOL_MIN/);
  });

  it('has no read replica unless DATABASE_READ_URL is set (empty is none), with its own pool, 5 s lag limit', () => {
    const c = parseConfig({ DATABASE_READ_URL: '' });
    expect(c.DATABASE_READ_URL).toBeUndefined();
    expect(c).toMatchObject({ DATABASE_READ_POOL_MIN: 0, DATABASE_READ_POOL_MAX: 5, READ_REPLICA_MAX_LAG_SECONDS: 5 });
    const r = parseConfig({
      DATABASE_READ_URL: 'postgresql://u@replica.internal:5432/billing',
      DATABASE_READ_POOL_MAX: '8',
      READ_REPLICA_MAX_LAG_SECONDS: '2.5',
    });
    expect(r).toMatchObject({
      DATABASE_READ_URL: 'postgresql://u@replica.internal:5432/billing',
      DATABASE_READ_POOL_MAX: 8,
      READ_REPLICA_MAX_LAG_SECONDS: 2.5,
    });
    expect(() => parseConfig({ DATABASE_READ_POOL_MIN: '6', DATABASE_READ_POOL_MAX: '5' })).toThrow(
      /DATABASE_READ_POOL_MIN/,
    );
    expect(() => parseConfig({ READ_REPLICA_MAX_LAG_SECONDS: '0' })).toThrow(/READ_REPLICA_MAX_LAG_SECONDS/);
    expect(() => parseConfig({ DATABASE_READ_URL: 'replica with secret-password' })).toThrow(/DATABASE_READ_URL/);
  });

  it('accepts a PEM with literal \\n escapes and a comma-separated CORS allowlist', () => {
    const c = parseConfig({
      JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\\nabc\\n-----END PUBLIC KEY-----',
      CORS_ORIGINS: 'https://app.scholarlink.app, https://admin.scholarlink.app',
    });
    expect(c.JWT_PUBLIC_KEY).toBe('-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----');
    expect(c.CORS_ORIGINS).toEqual(['https://app.scholarlink.app', 'https://admin.scholarlink.app']);
  });
});
