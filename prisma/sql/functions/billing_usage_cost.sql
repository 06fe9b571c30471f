-- Credits for a usage: (input*in + cached*cached + output*out) / 1e6 * markup * 1000.
-- Multiplying by 0.001 instead of dividing keeps NUMERIC arithmetic exact.
-- Used by billing_charge_usage, billing_charge_usage_batch and billing_place_hold.
CREATE OR REPLACE FUNCTION "billing_usage_cost"(p_card "rate_cards", p_input BIGINT, p_output BIGINT, p_cached BIGINT)
RETURNS NUMERIC LANGUAGE sql IMMUTABLE AS $$
  SELECT round((p_input * (p_card)."input_usd_per_1m"
              + p_cached * COALESCE((p_card)."cached_input_usd_per_1m", (p_card)."input_usd_per_1m")
              + p_output * (p_card)."output_usd_per_1m") * (p_card)."markup" * 0.001, 18)
$$;
