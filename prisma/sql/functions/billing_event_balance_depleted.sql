-- balance.depleted (docs/events.md): the first 402 since the wallet was last credited.
-- The one statement of its body for billing_charge_usage and billing_place_hold; the set-based path
-- of billing_charge_usage_batch writes the same body in its own statement.
CREATE OR REPLACE FUNCTION "billing_event_balance_depleted"(
  p_user_id TEXT, p_available NUMERIC, p_required NUMERIC, p_at TIMESTAMPTZ)
RETURNS VOID LANGUAGE sql AS $$
  INSERT INTO "events" ("type", "user_id", "data", "created_at")
  VALUES ('balance.depleted', p_user_id,
          jsonb_build_object('available', trim_scale(p_available)::text, 'requiredCredits', trim_scale(p_required)::text),
          p_at);
$$;
