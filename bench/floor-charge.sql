-- The floor: the least SQL a correct charge needs, in one round trip (like billing_charge_usage).
-- 1. the guarded wallet update (balance >= cost): no overdraft, the wallet row is the lock;
-- 2. the ledger transaction under its unique business_key and its two postings (zero-sum trigger
--    checks them at commit);
-- 3. the usage row under its unique (user_id, request_id) key: the idempotency row.
-- No rate-card lookup, replay check, hold check, JSON, auth or HTTP: that is the service's cost.
-- Variables (-D): wallets (1 = the hot row), card (rate card id), revenue (usage_revenue account id).
\set w random(1, :wallets)
WITH req AS (
  SELECT 'bench-' || (:w)::text AS user_id, 'floor-' || gen_random_uuid()::text AS request_id, 0.18::numeric AS cost
), wallet AS (
  UPDATE accounts a SET balance = a.balance - req.cost, updated_at = now()
  FROM req WHERE a.user_id = req.user_id AND a.balance >= req.cost
  RETURNING a.id, a.balance
), tx AS (
  INSERT INTO ledger_transactions (type, business_key, reference)
  SELECT 'usage', billing_usage_business_key(req.user_id, req.request_id), req.request_id FROM req, wallet
  RETURNING id
), legs AS (
  INSERT INTO postings (transaction_id, account_id, amount, balance_after)
  SELECT tx.id, wallet.id, -req.cost, wallet.balance FROM tx, wallet, req
  UNION ALL SELECT tx.id, (:revenue)::bigint, req.cost, NULL FROM tx, req
)
INSERT INTO usages (user_id, request_id, account_id, model, rate_card_id, input_tokens, output_tokens, cached_input_tokens,
                    credits, balance_after, payload_hash, transaction_id)
SELECT req.user_id, req.request_id, wallet.id, 'gpt-4o-mini', (:card)::bigint, 100, 50, 0, req.cost, wallet.balance, 'floor', tx.id
FROM req, wallet, tx;
