-- How a usage is charged: the one statement of the rule, per item.
-- Outcomes: charged | replay | mismatch | unknown_model | insufficient.
--   1. A (user_id, request_id) already charged is a replay (same payload hash) or a mismatch.
--   2. The price is the model's rate card in force now, through billing_usage_cost.
--   3. The wallet row is locked; every writer of a user's balance, usages or holds locks it first.
--   4. An active hold for this request is settled in full: the charge may take the wallet below zero
--      (overdraft_allowed), and the hold ends as settled. Without a hold, the cost must fit in the
--      balance less the other unexpired active holds, else 402 (insufficient).
--   5. A charge above zero posts one usage transaction (business key billing_usage_business_key):
--      the wallet leg and the usage_revenue leg; a zero-cost call records a usage without one.
--   6. Events (docs/events.md), inserted in this transaction so they commit or roll back with the fact:
--      the wallet row carries the low-balance threshold and two flags, read by the lock of step 3.
--      low_balance_armed says "available was at or above the threshold after the last movement"; a
--      charge that finds it set and leaves available below writes one balance.low. depleted_armed is
--      set by any credit; a 402 that finds it set clears it and writes one balance.depleted.
--   7. Every usage recorded (zero-cost included) is added to usage_daily, its (user, UTC day, model)
--      row of the usage summary's rollup, in the same transaction.
--   8. Auto top-up needs nothing here: the balance UPDATE of step 5 fires the deferred trigger on
--      accounts (billing_autotopup_after_debit), which asks billing_autotopup_check at commit.
-- billing_charge_usage_batch charges many items with this rule; for plain first charges it states
-- steps 2-5 again set-based, and test/usage/charge-batch.property.test.ts proves the two answer
-- and post alike. A change here needs the same change there.
-- Why plpgsql and not one CTE: a CTE runs on one snapshot, so after waiting for a wallet lock it
-- cannot see a duplicate request or a hold that a concurrent transaction just committed. Here the
-- wallet row is locked first and every later statement reads a fresh snapshot.
-- The active-holds sum is written inline (the rule of billing_active_holds): on the hottest path even
-- a plpgsql call costs a measurable share.
CREATE OR REPLACE FUNCTION "billing_charge_usage"(
  p_user_id TEXT, p_request_id TEXT, p_model TEXT, p_card_model TEXT,
  p_input BIGINT, p_output BIGINT, p_cached BIGINT,
  p_payload_hash TEXT, p_correlation_id TEXT, p_metadata JSONB)
RETURNS TABLE (outcome TEXT, usage_id UUID, transaction_id UUID, credits NUMERIC, balance NUMERIC,
               available NUMERIC, correlation_id TEXT, model TEXT, hold_id UUID, created_at TIMESTAMPTZ)
LANGUAGE plpgsql AS $$
DECLARE
  v_prior "usages"%ROWTYPE;
  v_card "rate_cards"%ROWTYPE;
  v_hold "holds"%ROWTYPE;
  v_account_id BIGINT;
  v_balance NUMERIC;
  v_threshold NUMERIC;
  v_low_armed BOOLEAN;
  v_depleted_armed BOOLEAN;
  v_held NUMERIC;
  v_cost NUMERIC;
  v_tx UUID;
  v_usage UUID;
  v_now TIMESTAMPTZ := now();
BEGIN
  -- Replays are answered before taking the wallet lock, so they never queue behind charges.
  SELECT * INTO v_prior FROM "usages" u WHERE u."user_id" = p_user_id AND u."request_id" = p_request_id;
  IF FOUND THEN
    RETURN QUERY SELECT CASE WHEN v_prior."payload_hash" = p_payload_hash THEN 'replay' ELSE 'mismatch' END,
      v_prior."id", v_prior."transaction_id", v_prior."credits", v_prior."balance_after", NULL::NUMERIC,
      v_prior."correlation_id", v_prior."model", v_prior."hold_id", v_prior."created_at";
    RETURN;
  END IF;

  SELECT * INTO v_card FROM "rate_cards" c
  WHERE c."model" = p_card_model AND c."effective_from" <= v_now ORDER BY c."effective_from" DESC LIMIT 1;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'unknown_model'::TEXT, NULL::UUID, NULL::UUID, NULL::NUMERIC, NULL::NUMERIC, NULL::NUMERIC, NULL::TEXT, p_model, NULL::UUID, NULL::TIMESTAMPTZ;
    RETURN;
  END IF;
  v_cost := "billing_usage_cost"(v_card, p_input, p_output, p_cached);

  SELECT a."id", a."balance", a."low_balance_threshold", a."low_balance_armed", a."depleted_armed"
  INTO v_account_id, v_balance, v_threshold, v_low_armed, v_depleted_armed
  FROM "accounts" a WHERE a."user_id" = p_user_id FOR UPDATE;
  IF NOT FOUND THEN
    -- No wallet never could pay: no depletion to report.
    IF v_cost > 0 THEN
      RETURN QUERY SELECT 'insufficient'::TEXT, NULL::UUID, NULL::UUID, v_cost, 0::NUMERIC, 0::NUMERIC, NULL::TEXT, p_model, NULL::UUID, NULL::TIMESTAMPTZ;
      RETURN;
    END IF;
    INSERT INTO "accounts" ("kind", "user_id") VALUES ('wallet', p_user_id) ON CONFLICT ("user_id") DO NOTHING;
    SELECT a."id", a."balance", a."low_balance_threshold", a."low_balance_armed", a."depleted_armed"
    INTO v_account_id, v_balance, v_threshold, v_low_armed, v_depleted_armed
    FROM "accounts" a WHERE a."user_id" = p_user_id FOR UPDATE;
  END IF;

  -- A concurrent copy of this request may have committed while we waited for the lock.
  SELECT * INTO v_prior FROM "usages" u WHERE u."user_id" = p_user_id AND u."request_id" = p_request_id;
  IF FOUND THEN
    RETURN QUERY SELECT CASE WHEN v_prior."payload_hash" = p_payload_hash THEN 'replay' ELSE 'mismatch' END,
      v_prior."id", v_prior."transaction_id", v_prior."credits", v_prior."balance_after", NULL::NUMERIC,
      v_prior."correlation_id", v_prior."model", v_prior."hold_id", v_prior."created_at";
    RETURN;
  END IF;

  -- A hold for this request means the call was reserved for and has happened: settle it in full.
  -- Locked, so a concurrent release either ends it first (and this is a plain, guarded charge)
  -- or waits until this settle commits.
  SELECT * INTO v_hold FROM "holds" h WHERE h."user_id" = p_user_id AND h."request_id" = p_request_id AND h."status" = 'active' FOR UPDATE;
  SELECT COALESCE(SUM(ah."amount"), 0) INTO v_held FROM "holds" ah
  WHERE ah."account_id" = v_account_id AND ah."status" = 'active' AND ah."expires_at" > now()
    AND ah."id" IS DISTINCT FROM v_hold."id";
  IF v_hold."id" IS NULL AND v_balance - v_held < v_cost THEN
    -- The first 402 since the wallet was last credited reports the depletion, once.
    IF v_depleted_armed THEN
      UPDATE "accounts" a SET "depleted_armed" = false WHERE a."id" = v_account_id;
      PERFORM "billing_event_balance_depleted"(p_user_id, v_balance - v_held, v_cost, v_now);
    END IF;
    RETURN QUERY SELECT 'insufficient'::TEXT, NULL::UUID, NULL::UUID, v_cost, v_balance, v_balance - v_held, NULL::TEXT, p_model, NULL::UUID, NULL::TIMESTAMPTZ;
    RETURN;
  END IF;

  IF v_cost > 0 THEN
    -- The armed flag is rewritten by the UPDATE the charge makes anyway: no extra statement.
    UPDATE "accounts" a SET "balance" = a."balance" - v_cost, "updated_at" = v_now,
      "low_balance_armed" = (v_threshold IS NULL OR a."balance" - v_cost - v_held >= v_threshold)
    WHERE a."id" = v_account_id RETURNING a."balance" INTO v_balance;
    INSERT INTO "ledger_transactions" ("type", "business_key", "correlation_id", "reference", "created_at")
    VALUES ('usage', "billing_usage_business_key"(p_user_id, p_request_id), p_correlation_id, p_request_id, v_now)
    RETURNING "id" INTO v_tx;
    INSERT INTO "postings" ("transaction_id", "account_id", "amount", "balance_after", "overdraft_allowed", "created_at") VALUES
      (v_tx, v_account_id, -v_cost, v_balance, v_hold."id" IS NOT NULL, v_now),
      (v_tx, (SELECT s."id" FROM "accounts" s WHERE s."code" = 'usage_revenue'), v_cost, NULL, false, v_now);
    IF v_low_armed AND v_balance - v_held < v_threshold THEN
      PERFORM "billing_event_balance_low"(p_user_id, v_balance - v_held, v_threshold, v_now);
    END IF;
  END IF;

  INSERT INTO "usages" ("user_id", "request_id", "account_id", "model", "rate_card_id", "input_tokens", "output_tokens",
    "cached_input_tokens", "credits", "balance_after", "payload_hash", "transaction_id", "hold_id", "correlation_id", "metadata", "created_at")
  VALUES (p_user_id, p_request_id, v_account_id, p_model, v_card."id", p_input, p_output, p_cached, v_cost, v_balance,
    p_payload_hash, v_tx, v_hold."id", p_correlation_id, p_metadata, v_now)
  RETURNING "id" INTO v_usage;
  -- The usage summary's rollup, in this transaction; the wallet lock orders a user's upserts.
  INSERT INTO "usage_daily" AS d ("user_id", "day", "model", "requests", "input_tokens", "output_tokens",
    "cached_input_tokens", "credits")
  VALUES (p_user_id, (v_now AT TIME ZONE 'UTC')::date, p_model, 1, p_input, p_output, p_cached, v_cost)
  ON CONFLICT ON CONSTRAINT "usage_daily_pkey" DO UPDATE SET "requests" = d."requests" + 1,
    "input_tokens" = d."input_tokens" + p_input, "output_tokens" = d."output_tokens" + p_output,
    "cached_input_tokens" = d."cached_input_tokens" + p_cached, "credits" = d."credits" + v_cost;

  IF v_hold."id" IS NOT NULL THEN
    UPDATE "holds" h SET "status" = 'settled', "ended_at" = v_now, "usage_id" = v_usage WHERE h."id" = v_hold."id" AND h."status" = 'active';
  END IF;

  RETURN QUERY SELECT 'charged'::TEXT, v_usage, v_tx, v_cost, v_balance, v_balance - v_held, p_correlation_id, p_model, v_hold."id", v_now;
END $$;
