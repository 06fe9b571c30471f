-- The holds sweep, as one function that locks like every other writer of holds.
-- Lock order: every writer of a user's holds (billing_charge_usage and its batch, billing_place_hold,
-- billing_release_hold) locks the wallet row first, and a batch locks its wallets in user_id order.
-- The sweep does the same: the wallets of the holds it notes, in user_id order, then their holds.
-- Under those wallet locks no other transaction can hold or want a row lock on these holds, so the
-- UPDATE's own row order cannot matter, and a sweep never waits on a settle (or on another replica's
-- sweep) while holding what that one waits for.
-- At most p_limit wallets a run keeps the locks short; the rest are noted by the next run.
-- The gauges are the current state: expired_unsettled counts holds that expired within p_recent and
-- are still neither settled nor released, so it falls back to 0 once holds stop leaking (the
-- all-time count is billing_holds_total{outcome="expired"}).
CREATE OR REPLACE FUNCTION "billing_sweep_holds"(p_recent INTERVAL, p_limit INTEGER)
RETURNS TABLE (newly_expired BIGINT, active BIGINT, held NUMERIC, expired_unsettled BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
  v_now TIMESTAMPTZ := now();
  v_accounts BIGINT[];
  v_noted BIGINT;
BEGIN
  SELECT array_agg(w."id") INTO v_accounts FROM (
    SELECT a."id" FROM "accounts" a
    WHERE a."id" IN (SELECT h."account_id" FROM "holds" h
                     WHERE h."status" = 'active' AND h."expires_at" <= v_now AND h."expiry_noted_at" IS NULL)
    ORDER BY a."user_id" LIMIT p_limit
    FOR UPDATE) w;

  UPDATE "holds" h SET "expiry_noted_at" = v_now
  WHERE h."account_id" = ANY (COALESCE(v_accounts, '{}'))
    AND h."status" = 'active' AND h."expires_at" <= v_now AND h."expiry_noted_at" IS NULL;
  GET DIAGNOSTICS v_noted = ROW_COUNT;

  RETURN QUERY
  SELECT v_noted,
         count(*) FILTER (WHERE h."expires_at" > v_now),
         COALESCE(sum(h."amount") FILTER (WHERE h."expires_at" > v_now), 0),
         count(*) FILTER (WHERE h."expires_at" <= v_now)
  FROM "holds" h WHERE h."status" = 'active' AND h."expires_at" > v_now - p_recent;
END $$;
