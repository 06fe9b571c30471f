-- Holds for streaming calls: reserve before the call (this function), settle through
-- billing_charge_usage with the same requestId, or give back unused (billing_release_hold).
-- A hold moves no money: only the settle posts. Expiry is read from expires_at, so a gateway that
-- crashes mid-call never strands credits and no job has to run for them to come back.
-- One round trip. Outcomes: held | replay | mismatch | already_charged | unknown_model | insufficient.
-- 'already_charged': the requestId was charged as a plain usage; a hold now would reserve for a
-- call that has ended, and its settle would only replay the usage, so it is refused (409).
-- A hold lowers available, so it can cross the low-balance threshold (balance.low), and its 402 is a
-- depletion like a charge's (balance.depleted): the rules of billing_charge_usage step 6.
CREATE OR REPLACE FUNCTION "billing_place_hold"(
  p_user_id TEXT, p_request_id TEXT, p_model TEXT, p_card_model TEXT,
  p_max_input BIGINT, p_max_output BIGINT, p_ttl_seconds INTEGER,
  p_payload_hash TEXT, p_correlation_id TEXT)
RETURNS TABLE (outcome TEXT, hold_id UUID, amount NUMERIC, balance NUMERIC, available NUMERIC,
               expires_at TIMESTAMPTZ, status TEXT)
LANGUAGE plpgsql AS $$
DECLARE
  v_prior "holds"%ROWTYPE;
  v_card "rate_cards"%ROWTYPE;
  v_account_id BIGINT;
  v_balance NUMERIC;
  v_threshold NUMERIC;
  v_low_armed BOOLEAN;
  v_depleted_armed BOOLEAN;
  v_topup_threshold NUMERIC;
  v_available NUMERIC;
  v_cost NUMERIC;
  v_hold UUID;
  v_expires TIMESTAMPTZ;
  v_now TIMESTAMPTZ := now();
BEGIN
  -- Replays are answered before taking the wallet lock, so a retrying gateway never queues.
  SELECT * INTO v_prior FROM "holds" h WHERE h."user_id" = p_user_id AND h."request_id" = p_request_id;
  IF FOUND THEN
    RETURN QUERY SELECT CASE WHEN v_prior."payload_hash" = p_payload_hash THEN 'replay' ELSE 'mismatch' END,
      v_prior."id", v_prior."amount", NULL::NUMERIC, v_prior."available_after", v_prior."expires_at", v_prior."status";
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM "usages" u WHERE u."user_id" = p_user_id AND u."request_id" = p_request_id) THEN
    RETURN QUERY SELECT 'already_charged'::TEXT, NULL::UUID, NULL::NUMERIC, NULL::NUMERIC, NULL::NUMERIC, NULL::TIMESTAMPTZ, NULL::TEXT;
    RETURN;
  END IF;

  SELECT * INTO v_card FROM "rate_cards" c
  WHERE c."model" = p_card_model AND c."effective_from" <= v_now ORDER BY c."effective_from" DESC LIMIT 1;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'unknown_model'::TEXT, NULL::UUID, NULL::NUMERIC, NULL::NUMERIC, NULL::NUMERIC, NULL::TIMESTAMPTZ, NULL::TEXT;
    RETURN;
  END IF;
  -- All prompt tokens at the input rate: cached input is never dearer, so this bounds the call.
  v_cost := "billing_usage_cost"(v_card, p_max_input, p_max_output, 0);

  SELECT a."id", a."balance", a."low_balance_threshold", a."low_balance_armed", a."depleted_armed", a."auto_topup_threshold"
  INTO v_account_id, v_balance, v_threshold, v_low_armed, v_depleted_armed, v_topup_threshold
  FROM "accounts" a WHERE a."user_id" = p_user_id FOR UPDATE;
  IF NOT FOUND THEN
    IF v_cost > 0 THEN
      RETURN QUERY SELECT 'insufficient'::TEXT, NULL::UUID, v_cost, 0::NUMERIC, 0::NUMERIC, NULL::TIMESTAMPTZ, NULL::TEXT;
      RETURN;
    END IF;
    INSERT INTO "accounts" ("kind", "user_id") VALUES ('wallet', p_user_id) ON CONFLICT ("user_id") DO NOTHING;
    SELECT a."id", a."balance", a."low_balance_threshold", a."low_balance_armed", a."depleted_armed", a."auto_topup_threshold"
    INTO v_account_id, v_balance, v_threshold, v_low_armed, v_depleted_armed, v_topup_threshold
    FROM "accounts" a WHERE a."user_id" = p_user_id FOR UPDATE;
  END IF;

  -- A concurrent copy of this request, or its plain charge, may have committed while we waited.
  SELECT * INTO v_prior FROM "holds" h WHERE h."user_id" = p_user_id AND h."request_id" = p_request_id;
  IF FOUND THEN
    RETURN QUERY SELECT CASE WHEN v_prior."payload_hash" = p_payload_hash THEN 'replay' ELSE 'mismatch' END,
      v_prior."id", v_prior."amount", NULL::NUMERIC, v_prior."available_after", v_prior."expires_at", v_prior."status";
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM "usages" u WHERE u."user_id" = p_user_id AND u."request_id" = p_request_id) THEN
    RETURN QUERY SELECT 'already_charged'::TEXT, NULL::UUID, NULL::NUMERIC, NULL::NUMERIC, NULL::NUMERIC, NULL::TIMESTAMPTZ, NULL::TEXT;
    RETURN;
  END IF;

  -- Under the wallet lock no charge, settle or other hold can change balance or holds.
  v_available := v_balance - "billing_active_holds"(v_account_id, NULL);
  IF v_available < v_cost THEN
    IF v_depleted_armed THEN
      UPDATE "accounts" a SET "depleted_armed" = false WHERE a."id" = v_account_id;
      PERFORM "billing_event_balance_depleted"(p_user_id, v_available, v_cost, v_now);
    END IF;
    RETURN QUERY SELECT 'insufficient'::TEXT, NULL::UUID, v_cost, v_balance, v_available, NULL::TIMESTAMPTZ, NULL::TEXT;
    RETURN;
  END IF;

  v_expires := v_now + make_interval(secs => p_ttl_seconds);
  INSERT INTO "holds" ("account_id", "user_id", "request_id", "model", "rate_card_id", "max_input_tokens", "max_output_tokens",
    "amount", "status", "payload_hash", "expires_at", "created_at", "correlation_id", "available_after")
  VALUES (v_account_id, p_user_id, p_request_id, p_model, v_card."id", p_max_input, p_max_output,
    v_cost, 'active', p_payload_hash, v_expires, v_now, p_correlation_id, v_available - v_cost)
  RETURNING "id" INTO v_hold;

  -- The wallet row is written only when the flag changes: a hold otherwise moves no balance.
  IF v_threshold IS NOT NULL AND v_low_armed <> (v_available - v_cost >= v_threshold) THEN
    UPDATE "accounts" a SET "low_balance_armed" = NOT v_low_armed WHERE a."id" = v_account_id;
    IF v_low_armed THEN
      PERFORM "billing_event_balance_low"(p_user_id, v_available - v_cost, v_threshold, v_now);
    END IF;
  END IF;

  -- A hold lowers available without moving the balance, which the wallet's deferred trigger watches:
  -- auto top-up is asked here instead (billing_autotopup_check).
  IF v_topup_threshold IS NOT NULL AND v_available - v_cost < v_topup_threshold THEN
    PERFORM "billing_autotopup_check"(p_user_id);
  END IF;

  RETURN QUERY SELECT 'held'::TEXT, v_hold, v_cost, v_balance, v_available - v_cost, v_expires, 'active'::TEXT;
END $$;
