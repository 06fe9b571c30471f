-- balance.low (docs/events.md): available has just crossed below the user's low-balance threshold.
-- The one statement of its body for the debit paths (billing_charge_usage, billing_place_hold,
-- billing_post_wallet), called only on a crossing; the set-based path of billing_charge_usage_batch
-- writes the same body in its own statement, and its property test compares the two.
CREATE OR REPLACE FUNCTION "billing_event_balance_low"(
  p_user_id TEXT, p_available NUMERIC, p_threshold NUMERIC, p_at TIMESTAMPTZ)
RETURNS VOID LANGUAGE sql AS $$
  INSERT INTO "events" ("type", "user_id", "data", "created_at")
  VALUES ('balance.low', p_user_id,
          jsonb_build_object('available', trim_scale(p_available)::text, 'thresholdCredits', trim_scale(p_threshold)::text),
          p_at);
$$;
