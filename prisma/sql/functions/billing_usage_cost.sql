-- Credits for a usage: its USD price (billing_usage_usd) * markup * 1000 credits per USD, to 18 places.
-- Used by billing_charge_usage, billing_charge_usage_batch and billing_place_hold.
CREATE OR REPLACE FUNCTION "billing_usage_cost"(p_card "rate_cards", p_input BIGINT, p_output BIGINT, p_cached BIGINT)
RETURNS NUMERIC LANGUAGE sql IMMUTABLE AS $$
  SELECT round("billing_usage_usd"(p_card, p_input, p_output, p_cached) * (p_card)."markup" * 1000, 18)
$$;
