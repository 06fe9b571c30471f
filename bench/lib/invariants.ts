import type pg from 'pg';

/** Each check counts offending rows; anything but zero fails the run, so a fast wrong answer cannot pass. */
const CHECKS: Record<string, string> = {
  'transaction does not sum to zero': `SELECT count(*) AS n FROM (SELECT transaction_id FROM postings
                                       GROUP BY transaction_id HAVING sum(amount) <> 0) x`,
  'transaction without postings': `SELECT count(*) AS n FROM ledger_transactions t WHERE NOT EXISTS (SELECT 1
                                   FROM postings p WHERE p.transaction_id = t.id)`,
  'posting without its transaction or account': `SELECT count(*) AS n FROM postings p WHERE NOT EXISTS (SELECT 1
                                                 FROM ledger_transactions t WHERE t.id = p.transaction_id)
     OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = p.account_id)`,
  'wallet balance differs from its postings': `SELECT count(*) AS n FROM accounts a
     LEFT JOIN (SELECT account_id, sum(amount) AS s FROM postings GROUP BY account_id) p ON p.account_id = a.id
     WHERE a.kind = 'wallet' AND a.balance <> COALESCE(p.s, 0)`,
  'wallet driven below zero without overdraft': `SELECT count(*) AS n FROM postings WHERE NOT overdraft_allowed
                                                 AND balance_after < 0`,
  'wallet below zero': `SELECT count(*) AS n FROM accounts WHERE kind = 'wallet' AND balance < 0`,
  'more than one usage per (user, requestId)': `SELECT count(*) AS n FROM (SELECT 1 FROM usages GROUP BY user_id,
                                                request_id HAVING count(*) > 1) x`,
  'charged usage without exactly one ledger transaction': `SELECT count(*) AS n FROM usages u WHERE u.credits > 0
                                                           AND (SELECT count(*) FROM ledger_transactions t
     WHERE t.business_key = billing_usage_business_key(u.user_id, u.request_id) AND t.id = u.transaction_id) <> 1`,
  'usage transaction without its usage': `SELECT count(*) AS n FROM ledger_transactions t WHERE t.type = 'usage'
                                          AND NOT EXISTS (SELECT 1 FROM usages u WHERE u.transaction_id = t.id)`,
  'usage posting differs from the usage credits': `SELECT count(*) AS n FROM usages u JOIN postings p
                                                   ON p.transaction_id = u.transaction_id
                                                   AND p.account_id = u.account_id
     WHERE p.amount <> -u.credits OR p.balance_after <> u.balance_after`,
};

export async function ledgerViolations(pool: pg.Pool): Promise<string[]> {
  const found: string[] = [];
  for (const [name, sql] of Object.entries(CHECKS)) {
    const { rows } = await pool.query<{ n: string }>(sql);
    if (Number(rows[0].n) !== 0) found.push(`${name}: ${rows[0].n}`);
  }
  return found;
}
