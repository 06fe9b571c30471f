import fc from 'fast-check';
import request from 'supertest';
import Decimal from 'decimal.js';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { ledgerViolations, NO_VIOLATIONS } from '../helpers/ledger-invariants';
import { balanceOf, reconcile } from '../helpers/wallets';

// An independent model of the contract's prices (USD per 1M tokens: input, cached input, output).
const CARDS: Record<string, [string, string | null, string]> = {
  'gpt-4o': ['5', '2.5', '15'],
  'gpt-4o-mini': ['0.15', '0.075', '0.6'],
  'gpt-4-turbo': ['10', null, '30'],
};
const D = Decimal.clone({ precision: 60 });
const cost = (model: string, i: number, c: number, o: number) => {
  const [ip, cp, op] = CARDS[model];
  return new D(i)
    .times(ip)
    .plus(new D(c).times(cp ?? ip))
    .plus(new D(o).times(op))
    .div(1_000_000)
    .times(4)
    .times(1000);
};

const amount = fc
  .tuple(fc.integer({ min: 0, max: 5000 }), fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }))
  .map(([i, f]) => `${i}.${f.toString().padStart(18, '0')}`)
  .filter((s) => !new D(s).isZero());
const user = fc.constantFrom('u1', 'u2');
const step = fc.oneof(
  fc.record({ kind: fc.constant('grant' as const), user, amount }),
  fc.record({ kind: fc.constant('takeBack' as const), user, amount, allowNegative: fc.boolean() }),
  fc.record({
    kind: fc.constant('usage' as const),
    user,
    model: fc.constantFrom(...Object.keys(CARDS)),
    input: fc.integer({ min: 0, max: 300_000 }),
    cached: fc.integer({ min: 0, max: 100_000 }),
    output: fc.integer({ min: 0, max: 100_000 }),
  }),
  fc.record({ kind: fc.constant('replay' as const), pick: fc.nat() }),
);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

let run = 0;
describe('the ledger under random sequences of grants, usages, replays and take-backs', () => {
  it('keeps balances equal to postings, each transaction at zero, no usage below zero; matches the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        run += 1;
        const model = new Map<string, Decimal>();
        const charged: Array<{ body: Record<string, unknown>; response: unknown }> = [];
        for (const [n, s] of steps.entries()) {
          const userId = s.kind === 'replay' ? '' : `r${run}-${s.user}`;
          const balance = model.get(userId) ?? new D(0);
          if (s.kind === 'grant' || s.kind === 'takeBack') {
            const signed = s.kind === 'grant' ? s.amount : `-${s.amount}`;
            const res = await request(t.app)
              .post('/v1/admin/credits/adjustments')
              .set('Authorization', `Bearer ${t.admin}`)
              .set('Idempotency-Key', `r${run}-${n}`)
              .send({
                userId,
                amount: signed,
                reason: 'property',
                allowNegative: s.kind === 'takeBack' ? s.allowNegative : undefined,
              });
            const refused = s.kind === 'takeBack' && !s.allowNegative && balance.minus(s.amount).isNegative();
            expect(res.status).toBe(refused ? 402 : 201);
            if (!refused) model.set(userId, balance.plus(signed));
          } else if (s.kind === 'usage') {
            const body = {
              userId,
              requestId: `r${run}-${n}`,
              model: s.model,
              inputTokens: s.input,
              cachedInputTokens: s.cached,
              outputTokens: s.output,
            };
            const price = cost(s.model, s.input, s.cached, s.output);
            const res = await reconcile(t, body);
            const affordable = balance.gte(price);
            expect(res.status).toBe(affordable ? 201 : 402);
            if (affordable) {
              expect(new D(res.body.credits).eq(price)).toBe(true);
              model.set(userId, balance.minus(price));
              charged.push({ body, response: res.body });
            }
          } else if (charged.length > 0) {
            const earlier = charged[s.pick % charged.length];
            const res = await reconcile(t, earlier.body);
            expect(res.status).toBe(200);
            expect(res.body).toEqual(earlier.response);
          }
          expect(await ledgerViolations(t.database)).toEqual(NO_VIOLATIONS);
        }
        for (const [userId, expected] of model) {
          expect(new D((await balanceOf(t, userId)).balance).eq(expected)).toBe(true);
        }
      }),
      { numRuns: 50 },
    );
  });
});
