-- Any movement between one wallet and one system account other than a usage (purchase, bonus,
-- refund, dispute, dispute reversal, adjustment). p_amount is signed from the wallet's side.
-- Outcomes: posted | replay | mismatch | insufficient. The business key (src/modules/ledger/business-keys.ts)
-- makes a movement post once; the same key with another amount, type or wallet is a mismatch.
-- Any credit re-arms the depletion notice; a debit can cross the low-balance threshold (balance.low)
-- and a credit can re-arm it (billing_charge_usage step 6).
CREATE OR REPLACE FUNCTION "billing_post_wallet"(
  p_user_id TEXT, p_type TEXT, p_business_key TEXT, p_counter_code TEXT, p_amount NUMERIC,
  p_allow_negative BOOLEAN, p_correlation_id TEXT, p_reference TEXT, p_actor TEXT, p_metadata JSONB)
RETURNS TABLE (outcome TEXT, transaction_id UUID, amount NUMERIC, balance NUMERIC, correlation_id TEXT, reference TEXT, created_at TIMESTAMPTZ)
LANGUAGE plpgsql AS $$
DECLARE
  v_account_id BIGINT;
  v_balance NUMERIC;
  v_threshold NUMERIC;
  v_low_armed BOOLEAN;
  v_held NUMERIC := 0;
  v_tx UUID;
  v_now TIMESTAMPTZ := now();
BEGIN
  INSERT INTO "accounts" ("kind", "user_id") VALUES ('wallet', p_user_id) ON CONFLICT ("user_id") DO NOTHING;
  SELECT a."id", a."balance", a."low_balance_threshold", a."low_balance_armed" INTO v_account_id, v_balance, v_threshold, v_low_armed
  FROM "accounts" a WHERE a."user_id" = p_user_id FOR UPDATE;

  -- The same business key must mean the same movement; anything else is a caller's mistake.
  RETURN QUERY SELECT CASE WHEN p."account_id" = v_account_id AND p."amount" = p_amount AND t."type" = p_type THEN 'replay' ELSE 'mismatch' END,
      t."id", p."amount", p."balance_after", t."correlation_id", t."reference", t."created_at"
    FROM "ledger_transactions" t JOIN "postings" p ON p."transaction_id" = t."id"
    JOIN "accounts" a ON a."id" = p."account_id" AND a."kind" = 'wallet'
    WHERE t."business_key" = p_business_key;
  IF FOUND THEN RETURN; END IF;

  IF p_amount < 0 AND NOT p_allow_negative AND v_balance + p_amount < 0 THEN
    RETURN QUERY SELECT 'insufficient'::TEXT, NULL::UUID, p_amount, v_balance, NULL::TEXT, NULL::TEXT, NULL::TIMESTAMPTZ;
    RETURN;
  END IF;

  IF v_threshold IS NOT NULL THEN
    v_held := "billing_active_holds"(v_account_id, NULL);
  END IF;
  UPDATE "accounts" a SET "balance" = a."balance" + p_amount, "updated_at" = v_now,
    "depleted_armed" = a."depleted_armed" OR p_amount > 0,
    "low_balance_armed" = (v_threshold IS NULL OR a."balance" + p_amount - v_held >= v_threshold)
  WHERE a."id" = v_account_id RETURNING a."balance" INTO v_balance;
  INSERT INTO "ledger_transactions" ("type", "business_key", "correlation_id", "reference", "actor", "metadata", "created_at")
  VALUES (p_type, p_business_key, p_correlation_id, p_reference, p_actor, p_metadata, v_now)
  RETURNING "id" INTO v_tx;
  INSERT INTO "postings" ("transaction_id", "account_id", "amount", "balance_after", "overdraft_allowed", "created_at") VALUES
    (v_tx, v_account_id, p_amount, v_balance, p_amount < 0 AND p_allow_negative, v_now),
    (v_tx, (SELECT s."id" FROM "accounts" s WHERE s."code" = p_counter_code), -p_amount, NULL, false, v_now);
  -- Only a debit crosses below; a credit that still leaves available below the threshold does not.
  IF p_amount < 0 AND v_low_armed AND v_balance - v_held < v_threshold THEN
    PERFORM "billing_event_balance_low"(p_user_id, v_balance - v_held, v_threshold, v_now);
  END IF;

  RETURN QUERY SELECT 'posted'::TEXT, v_tx, p_amount, v_balance, p_correlation_id, p_reference, v_now;
END $$;
