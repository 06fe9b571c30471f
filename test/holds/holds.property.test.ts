import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type Decimal from 'decimal.js';
import type { Response } from 'supertest';
import { money } from '../../src/platform/money';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { balanceOf, grant, reconcile } from '../helpers/wallets';
import { backdateExpiry, placeHold, releaseHold } from '../helpers/holds';

/**
 * Random sequences of grants, plain usages, replays, holds, settles, releases and expiries,
 * run against the service and against a plain decimal.js model of the rules, checking the
 * ledger's invariants after every step.
 */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

// Credits per token: USD per 1M × markup 4 × 1000 credits / 1M.
const PRICES: Record<string, { input: string; cached: string; output: string }> = {
  'gpt-4o': { input: '5', cached: '2.5', output: '15' },
  'gpt-4o-mini': { input: '0.15', cached: '0.075', output: '0.6' },
};
const perToken = (usd: string) => money(usd).times(4).times(1000).div(1_000_000);
const cost = (model: string, input: number, output: number, cached = 0) => {
  const p = PRICES[model];
  return perToken(p.input).times(input).plus(perToken(p.cached).times(cached)).plus(perToken(p.output).times(output));
};

type Step =
  | { kind: 'grant'; user: number; cents: number }
  | { kind: 'usage'; user: number; req: number; model: string; input: number; output: number; cached: number }
  | { kind: 'hold'; user: number; req: number; model: string; maxIn: number; maxOut: number }
  | { kind: 'release' | 'expire'; user: number; req: number }
  | { kind: 'repeat'; index: number };

const user = fc.integer({ min: 0, max: 1 });
const req = fc.integer({ min: 0, max: 3 }); // few requestIds per user: settles, replays and mismatches happen often
const model = fc.constantFrom('gpt-4o', 'gpt-4o-mini');
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('grant' as const), user, cents: fc.integer({ min: 1, max: 50_000 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('usage' as const),
      user,
      req,
      model,
      input: fc.constantFrom(0, 100, 1000, 2500),
      output: fc.constantFrom(0, 200, 1000),
      cached: fc.constantFrom(0, 500),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('hold' as const),
      user,
      req,
      model,
      maxIn: fc.constantFrom(0, 1000, 3000),
      maxOut: fc.constantFrom(0, 500, 2000),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), user, req }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), user, req }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('repeat' as const), index: fc.nat() }) },
);

interface HoldModel {
  id: string;
  hash: string;
  amount: Decimal;
  status: 'active' | 'settled' | 'released';
  expired: boolean;
  body: { expiresAt: string };
}
interface UsageModel {
  hash: string;
  body: unknown;
}

class Model {
  balance: Decimal[] = [money(0), money(0)];
  holds = new Map<string, HoldModel>();
  usages = new Map<string, UsageModel>();
  held(u: number): Decimal {
    let sum = money(0);
    for (const [key, h] of this.holds)
      if (key.startsWith(`${u}:`) && h.status === 'active' && !h.expired) sum = sum.plus(h.amount);
    return sum;
  }
  available = (u: number) => this.balance[u].minus(this.held(u));
}

const eq = (wire: string, expected: Decimal) =>
  expect({ wire, equal: money(wire).eq(expected) }).toEqual({ wire, equal: true });

function expectRefusal(res: Response, required: Decimal, available: Decimal) {
  expect(res.status).toBe(402);
  eq(res.body.requiredCredits, required);
  eq(res.body.availableCredits, available);
  eq(res.body.shortfall, required.minus(available));
}

let runs = 0;

async function run(steps: Step[]) {
  const prefix = `p${runs++}`;
  const userId = (u: number) => `${prefix}-u${u}`;
  const m = new Model();
  const executed: Step[] = [];

  const apply = async (s: Step): Promise<void> => {
    if (s.kind === 'repeat') {
      const earlier = executed.filter((e) => e.kind === 'usage' || e.kind === 'hold');
      if (earlier.length) await apply(earlier[s.index % earlier.length]);
      return;
    }
    executed.push(s);
    if (s.kind === 'grant') {
      const amount = money(s.cents).div(100);
      await grant(t, userId(s.user), amount.toFixed());
      m.balance[s.user] = m.balance[s.user].plus(amount);
      return;
    }
    const key = `${s.user}:q${s.req}`;
    const requestId = `q${s.req}`;
    if (s.kind === 'usage') {
      const hash = JSON.stringify([s.model, s.input, s.output, s.cached]);
      const res = await reconcile(t, {
        userId: userId(s.user),
        requestId,
        model: s.model,
        inputTokens: s.input,
        outputTokens: s.output,
        cachedInputTokens: s.cached,
      });
      const prior = m.usages.get(key);
      if (prior) {
        expect(res.status).toBe(prior.hash === hash ? 200 : 422);
        if (prior.hash === hash) expect(res.body).toEqual(prior.body);
        return;
      }
      const price = cost(s.model, s.input, s.output, s.cached);
      const hold = m.holds.get(key);
      const settles = hold?.status === 'active'; // expired or not: the call happened
      if (!settles && m.available(s.user).lt(price)) return expectRefusal(res, price, m.available(s.user));
      expect(res.status).toBe(201);
      m.balance[s.user] = m.balance[s.user].minus(price);
      eq(res.body.credits, price);
      eq(res.body.balance, m.balance[s.user]);
      if (settles) hold!.status = 'settled';
      m.usages.set(key, { hash, body: res.body });
      return;
    }
    if (s.kind === 'hold') {
      const hash = JSON.stringify([s.model, s.maxIn, s.maxOut]);
      const res = await placeHold(t, {
        userId: userId(s.user),
        requestId,
        model: s.model,
        maxInputTokens: s.maxIn,
        maxOutputTokens: s.maxOut,
      });
      const prior = m.holds.get(key);
      if (prior) {
        expect(res.status).toBe(prior.hash === hash ? 200 : 422);
        if (prior.hash === hash) expect(res.body).toEqual(prior.body);
        return;
      }
      if (m.usages.has(key)) return void expect(res.status).toBe(409);
      const price = cost(s.model, s.maxIn, s.maxOut);
      const available = m.available(s.user);
      if (available.lt(price)) return expectRefusal(res, price, available);
      expect(res.status).toBe(201);
      eq(res.body.heldCredits, price);
      eq(res.body.availableCredits, available.minus(price));
      expect(money(res.body.availableCredits).gte(0)).toBe(true); // a hold never takes available below zero
      m.holds.set(key, { id: res.body.holdId, hash, amount: price, status: 'active', expired: false, body: res.body });
      return;
    }
    const hold = m.holds.get(key);
    if (s.kind === 'expire') {
      if (hold) {
        // Time travel rewrites expires_at, so the replayed body carries the new instant.
        hold.body = { ...hold.body, expiresAt: await backdateExpiry(t, hold.id) };
        hold.expired = true;
      }
      return;
    }
    const res = await releaseHold(t, hold?.id ?? randomUUID());
    if (!hold) return void expect(res.status).toBe(404);
    expect(res.status).toBe(200);
    if (hold.status === 'active') hold.status = 'released';
    expect(res.body.status).toBe(hold.status);
  };

  const checkInvariants = async () => {
    const [row] = await t.database.sql(`
      SELECT (SELECT count(*)::int FROM (SELECT 1 FROM postings GROUP BY transaction_id HAVING sum(amount) <> 0) x)
               AS unbalanced,
             (SELECT count(*)::int FROM accounts a WHERE a.kind = 'wallet'
                AND a.balance <> (SELECT COALESCE(sum(p.amount), 0) FROM postings p
                  WHERE p.account_id = a.id)) AS drifted,
             (SELECT count(*)::int FROM holds WHERE available_after < 0) AS holds_below_zero,
             (SELECT count(*)::int FROM usages WHERE hold_id IS NULL AND balance_after < 0) AS plain_below_zero`);
    expect(row).toEqual({ unbalanced: 0, drifted: 0, holds_below_zero: 0, plain_below_zero: 0 });
    for (const u of [0, 1]) {
      const b = await balanceOf(t, userId(u));
      eq(b.balance, m.balance[u]);
      eq(b.held, m.held(u));
      eq(b.available, money(b.balance).minus(b.held));
      const [sql] = await t.database.sql<{ held: string }>(
        `SELECT COALESCE(sum(amount), 0)::text AS held FROM holds WHERE user_id = $1 AND status = 'active'
         AND expires_at > now()`,
        [userId(u)],
      );
      eq(b.held, money(sql.held));
    }
  };

  for (const s of steps) {
    await apply(s);
    await checkInvariants();
  }
}

describe('holds, property-based', () => {
  it('keeps the ledger balanced, available = balance − active holds, and matches a decimal model', async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 20, maxLength: 30 }), run), { numRuns: 25 });
  }, 300_000);
});
