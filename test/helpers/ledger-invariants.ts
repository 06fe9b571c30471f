import type { TestDatabase } from './database';

/** The ledger's invariants, checked in SQL; each returns the offending rows (empty when it holds). */
export async function ledgerViolations(database: TestDatabase) {
  const [unbalanced, walletDrift, usageOverdraft, duplicateUsage] = await Promise.all([
    database.sql(
      `SELECT transaction_id, sum(amount)::text AS total FROM postings GROUP BY transaction_id HAVING sum(amount) <> 0`,
    ),
    database.sql(
      `SELECT a.user_id, a.balance::text AS balance, COALESCE(sum(p.amount), 0)::text AS postings
       FROM accounts a LEFT JOIN postings p ON p.account_id = a.id
       WHERE a.kind = 'wallet' GROUP BY a.id HAVING a.balance <> COALESCE(sum(p.amount), 0)`,
    ),
    database.sql(
      `SELECT p.id FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id
       WHERE t.type = 'usage' AND p.balance_after < 0 AND NOT p.overdraft_allowed`,
    ),
    database.sql(
      `SELECT reference, count(*) FROM ledger_transactions WHERE type = 'usage' GROUP BY business_key, reference
       HAVING count(*) > 1`,
    ),
  ]);
  return { unbalanced, walletDrift, usageOverdraft, duplicateUsage };
}

export const NO_VIOLATIONS = { unbalanced: [], walletDrift: [], usageOverdraft: [], duplicateUsage: [] };
