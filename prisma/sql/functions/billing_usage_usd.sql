-- The price formula: what a usage costs at the rate card's USD prices per 1M tokens, before markup.
-- Cached input tokens are billed at the cached rate, or the input rate when the card has none.
-- Multiplying by 0.000001 instead of dividing keeps NUMERIC arithmetic exact.
-- Used by billing_usage_cost (credits) and the usage report (USD at cost).
CREATE OR REPLACE FUNCTION "billing_usage_usd"(p_card "rate_cards", p_input BIGINT, p_output BIGINT, p_cached BIGINT)
RETURNS NUMERIC LANGUAGE sql IMMUTABLE AS $$
  SELECT (p_input * (p_card)."input_usd_per_1m"
          + p_cached * COALESCE((p_card)."cached_input_usd_per_1m", (p_card)."input_usd_per_1m")
          + p_output * (p_card)."output_usd_per_1m") * 0.000001
$$;
