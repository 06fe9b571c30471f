-- Ends an active hold without charge; idempotent. Outcomes: released | unchanged | not_found.
-- It takes the wallet lock first, like billing_charge_usage, so a release and a settle of the
-- same hold are ordered: whichever runs second sees the first's outcome (a released hold is not
-- settled with an overdraft; a settled hold is not released).
-- A release raises available, so it may re-arm the low-balance notice (billing_charge_usage step 6).
CREATE OR REPLACE FUNCTION "billing_release_hold"(p_hold_id UUID)
RETURNS TABLE (outcome TEXT, hold_id UUID, user_id TEXT, request_id TEXT, amount NUMERIC, status TEXT,
               expires_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, balance NUMERIC, available NUMERIC)
LANGUAGE plpgsql AS $$
DECLARE
  v_hold "holds"%ROWTYPE;
  v_balance NUMERIC;
  v_threshold NUMERIC;
  v_low_armed BOOLEAN;
  v_available NUMERIC;
  v_outcome TEXT := 'released';
BEGIN
  SELECT * INTO v_hold FROM "holds" h WHERE h."id" = p_hold_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'not_found'::TEXT, NULL::UUID, NULL::TEXT, NULL::TEXT, NULL::NUMERIC, NULL::TEXT,
      NULL::TIMESTAMPTZ, NULL::TIMESTAMPTZ, NULL::NUMERIC, NULL::NUMERIC;
    RETURN;
  END IF;
  SELECT a."balance", a."low_balance_threshold", a."low_balance_armed" INTO v_balance, v_threshold, v_low_armed
  FROM "accounts" a WHERE a."id" = v_hold."account_id" FOR UPDATE;

  UPDATE "holds" h SET "status" = 'released', "ended_at" = now()
  WHERE h."id" = p_hold_id AND h."status" = 'active'
  RETURNING * INTO v_hold;
  IF NOT FOUND THEN
    v_outcome := 'unchanged';
    SELECT * INTO v_hold FROM "holds" h WHERE h."id" = p_hold_id;
  END IF;

  v_available := v_balance - "billing_active_holds"(v_hold."account_id", NULL);
  IF v_threshold IS NOT NULL AND NOT v_low_armed AND v_available >= v_threshold THEN
    UPDATE "accounts" a SET "low_balance_armed" = true WHERE a."id" = v_hold."account_id";
  END IF;

  RETURN QUERY SELECT v_outcome, v_hold."id", v_hold."user_id", v_hold."request_id", v_hold."amount", v_hold."status",
    v_hold."expires_at", v_hold."ended_at", v_balance, v_available;
END $$;
