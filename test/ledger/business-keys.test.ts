import fc from 'fast-check';
import { businessKey, parseBusinessKey, stripeObjectId } from '../../src/modules/ledger/business-keys';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

// Ids as callers send them: printable, may hold ':' and characters outside the BMP.
const id = fc.string({ unit: fc.constantFrom('a', 'b', ':', '1', 'é', '😀'), minLength: 1, maxLength: 12 });

describe('business keys (src/modules/ledger/business-keys.ts)', () => {
  it('a usage charge posts under the key the module builds, and the module reads user and request back', async () => {
    await database.sql(
      `SELECT billing_post_wallet('us:er😀', 'adjustment', 'fund', 'promotions', 100, false, NULL, 'r', NULL, NULL)`,
    );
    await database.sql(
      `SELECT billing_charge_usage('us:er😀', 'call:1', 'gpt-4o', 'gpt-4o', 1000, 500, 0, 'h', NULL, NULL)`,
    );
    const [row] = await database.sql<{ business_key: string }>(
      `SELECT t.business_key FROM usages u JOIN ledger_transactions t ON t.id = u.transaction_id
       WHERE u.user_id = 'us:er😀'`,
    );
    expect(row.business_key).toBe(businessKey.usage('us:er😀', 'call:1'));
    expect(parseBusinessKey(row.business_key)).toEqual({ kind: 'usage', userId: 'us:er😀', requestId: 'call:1' });
  });

  it('the SQL function and the module build the same usage key for any user and request id', async () => {
    const pairs = fc.sample(fc.tuple(id, id), { numRuns: 200, seed: 19 });
    const rows = await database.sql<{ key: string }>(
      `SELECT billing_usage_business_key(p->>0, p->>1) AS key FROM jsonb_array_elements($1::jsonb)
       WITH ORDINALITY AS x(p, n) ORDER BY n`,
      [JSON.stringify(pairs)],
    );
    expect(rows.map((r) => r.key)).toEqual(pairs.map(([u, r]) => businessKey.usage(u, r)));
  });

  it('two different (owner, id) pairs never share a key, and every key parses back to its parts', () => {
    fc.assert(
      fc.property(id, id, id, id, (u1, r1, u2, r2) => {
        if (u1 !== u2 || r1 !== r2) {
          expect(businessKey.usage(u1, r1)).not.toBe(businessKey.usage(u2, r2));
          expect(businessKey.adjustment(u1, r1)).not.toBe(businessKey.adjustment(u2, r2));
        }
        expect(parseBusinessKey(businessKey.usage(u1, r1))).toEqual({ kind: 'usage', userId: u1, requestId: r1 });
        expect(parseBusinessKey(businessKey.adjustment(u1, r1))).toEqual({
          kind: 'adjustment',
          admin: u1,
          idempotencyKey: r1,
        });
      }),
    );
  });

  it('reads the Stripe object a Stripe key names, and nothing from a key it did not build', () => {
    const purchase = '0b7f1a52-3c3e-4c8e-9a51-2f3c1d1e9b10';
    expect(parseBusinessKey(businessKey.stripeRefund(purchase, 1250))).toEqual({
      kind: 'stripe_refund',
      objectId: purchase,
      cumulativeRefundedCents: 1250,
    });
    expect(stripeObjectId(businessKey.stripePurchase(purchase))).toBe(purchase);
    expect(stripeObjectId(businessKey.stripeBonus(purchase))).toBe(purchase);
    expect(stripeObjectId(businessKey.stripeDispute('dp_1'))).toBe('dp_1');
    expect(parseBusinessKey(businessKey.stripeDisputeReversal('dp_1'))).toEqual({
      kind: 'stripe_dispute_reversal',
      objectId: 'dp_1',
    });
    for (const junk of [
      '',
      'usage:',
      'usage:9:ab:c',
      'stripe:purchase:',
      'stripe:refund:p',
      'stripe:other:x',
      'adjustment:x:y',
    ]) {
      expect({ junk, parsed: parseBusinessKey(junk) }).toEqual({ junk, parsed: null });
    }
  });
});
