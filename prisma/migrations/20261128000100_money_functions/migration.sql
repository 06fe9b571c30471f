-- The money paths as single-call functions: one round trip per charge or posting.
-- Why plpgsql and not one CTE: a CTE runs on one snapshot, so after waiting for a wallet lock it
-- cannot see a duplicate request or a hold that a concurrent transaction just committed. Here
-- the wallet row is locked first and every later statement reads a fresh snapshot.

-- Credits for a usage: (input*in + cached*cached + output*out) / 1e6 * markup * 1000.
-- Multiplying by 0.001 instead of dividing keeps NUMERIC arithmetic exact.
CREATE FUNCTION "billing_usage_cost"(p_card "rate_cards", p_input BIGINT, p_output BIGINT, p_cached BIGINT)
RETURNS NUMERIC LANGUAGE sql IMMUTABLE AS $$
  SELECT round((p_input * (p_card)."input_usd_per_1m"
              + p_cached * COALESCE((p_card)."cached_input_usd_per_1m", (p_card)."input_usd_per_1m")
              + p_output * (p_card)."output_usd_per_1m") * (p_card)."markup" * 0.001, 18)
$$;

-- Credits reserved by unexpired active holds; an expired hold stops counting without any job.
CREATE FUNCTION "billing_active_holds"(p_account_id BIGINT, p_except UUID)
RETURNS NUMERIC LANGUAGE sql STABLE AS $$
  SELECT COALESCE(SUM("amount"), 0) FROM "holds"
  WHERE "account_id" = p_account_id AND "status" = 'active' AND "expires_at" > now()
    AND "id" IS DISTINCT FROM p_except
$$;

CREATE FUNCTION "billing_charge_usage"(
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

  SELECT a."id", a."balance" INTO v_account_id, v_balance FROM "accounts" a WHERE a."user_id" = p_user_id FOR UPDATE;
  IF NOT FOUND THEN
    IF v_cost > 0 THEN
      RETURN QUERY SELECT 'insufficient'::TEXT, NULL::UUID, NULL::UUID, v_cost, 0::NUMERIC, 0::NUMERIC, NULL::TEXT, p_model, NULL::UUID, NULL::TIMESTAMPTZ;
      RETURN;
    END IF;
    INSERT INTO "accounts" ("kind", "user_id") VALUES ('wallet', p_user_id) ON CONFLICT ("user_id") DO NOTHING;
    SELECT a."id", a."balance" INTO v_account_id, v_balance FROM "accounts" a WHERE a."user_id" = p_user_id FOR UPDATE;
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
  v_held := "billing_active_holds"(v_account_id, v_hold."id");
  IF v_hold."id" IS NULL AND v_balance - v_held < v_cost THEN
    RETURN QUERY SELECT 'insufficient'::TEXT, NULL::UUID, NULL::UUID, v_cost, v_balance, v_balance - v_held, NULL::TEXT, p_model, NULL::UUID, NULL::TIMESTAMPTZ;
    RETURN;
  END IF;

  IF v_cost > 0 THEN
    UPDATE "accounts" a SET "balance" = a."balance" - v_cost, "updated_at" = v_now
    WHERE a."id" = v_account_id RETURNING a."balance" INTO v_balance;
    INSERT INTO "ledger_transactions" ("type", "business_key", "correlation_id", "reference", "created_at")
    VALUES ('usage', 'usage:' || length(p_user_id) || ':' || p_user_id || ':' || p_request_id, p_correlation_id, p_request_id, v_now)
    RETURNING "id" INTO v_tx;
    INSERT INTO "postings" ("transaction_id", "account_id", "amount", "balance_after", "overdraft_allowed", "created_at") VALUES
      (v_tx, v_account_id, -v_cost, v_balance, v_hold."id" IS NOT NULL, v_now),
      (v_tx, (SELECT s."id" FROM "accounts" s WHERE s."code" = 'usage_revenue'), v_cost, NULL, false, v_now);
  END IF;

  INSERT INTO "usages" ("user_id", "request_id", "account_id", "model", "rate_card_id", "input_tokens", "output_tokens",
    "cached_input_tokens", "credits", "balance_after", "payload_hash", "transaction_id", "hold_id", "correlation_id", "metadata", "created_at")
  VALUES (p_user_id, p_request_id, v_account_id, p_model, v_card."id", p_input, p_output, p_cached, v_cost, v_balance,
    p_payload_hash, v_tx, v_hold."id", p_correlation_id, p_metadata, v_now)
  RETURNING "id" INTO v_usage;

  IF v_hold."id" IS NOT NULL THEN
    UPDATE "holds" h SET "status" = 'settled', "ended_at" = v_now, "usage_id" = v_usage WHERE h."id" = v_hold."id" AND h."status" = 'active';
  END IF;

  RETURN QUERY SELECT 'charged'::TEXT, v_usage, v_tx, v_cost, v_balance, v_balance - v_held, p_correlation_id, p_model, v_hold."id", v_now;
END $$;

-- Any other movement between one wallet and one system account (purchase, bonus, refund,
-- dispute, dispute reversal, adjustment). p_amount is signed from the wallet's side.
CREATE FUNCTION "billing_post_wallet"(
  p_user_id TEXT, p_type TEXT, p_business_key TEXT, p_counter_code TEXT, p_amount NUMERIC,
  p_allow_negative BOOLEAN, p_correlation_id TEXT, p_reference TEXT, p_actor TEXT, p_metadata JSONB)
RETURNS TABLE (outcome TEXT, transaction_id UUID, amount NUMERIC, balance NUMERIC, correlation_id TEXT, reference TEXT, created_at TIMESTAMPTZ)
LANGUAGE plpgsql AS $$
DECLARE
  v_account_id BIGINT;
  v_balance NUMERIC;
  v_tx UUID;
  v_now TIMESTAMPTZ := now();
BEGIN
  INSERT INTO "accounts" ("kind", "user_id") VALUES ('wallet', p_user_id) ON CONFLICT ("user_id") DO NOTHING;
  SELECT a."id", a."balance" INTO v_account_id, v_balance FROM "accounts" a WHERE a."user_id" = p_user_id FOR UPDATE;

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

  UPDATE "accounts" a SET "balance" = a."balance" + p_amount, "updated_at" = v_now
  WHERE a."id" = v_account_id RETURNING a."balance" INTO v_balance;
  INSERT INTO "ledger_transactions" ("type", "business_key", "correlation_id", "reference", "actor", "metadata", "created_at")
  VALUES (p_type, p_business_key, p_correlation_id, p_reference, p_actor, p_metadata, v_now)
  RETURNING "id" INTO v_tx;
  INSERT INTO "postings" ("transaction_id", "account_id", "amount", "balance_after", "overdraft_allowed", "created_at") VALUES
    (v_tx, v_account_id, p_amount, v_balance, p_amount < 0 AND p_allow_negative, v_now),
    (v_tx, (SELECT s."id" FROM "accounts" s WHERE s."code" = p_counter_code), -p_amount, NULL, false, v_now);

  RETURN QUERY SELECT 'posted'::TEXT, v_tx, p_amount, v_balance, p_correlation_id, p_reference, v_now;
END $$;

-- CSV cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP CSV injection).
CREATE FUNCTION "billing_csv_text"(v TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN v ~ E'^[=+\\-@\\t\\r]' THEN '''' || v ELSE v END
$$;
