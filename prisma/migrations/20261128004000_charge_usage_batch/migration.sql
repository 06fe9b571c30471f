-- Group commit for usage charges: the charges that arrive while earlier ones are in flight go to
-- the database as ONE statement, one transaction, one WAL flush, one round trip.
-- Each item runs billing_charge_usage unchanged, so the 402 rule, replays (also of a duplicate in
-- the same batch: the second sees the first's usage row), mismatches and hold settling are exactly
-- those of a single charge. Items are taken in wallet order, then arrival order, so two batches
-- never wait on each other's wallets in opposite orders (no deadlock). If any item raises, the
-- whole batch rolls back (nothing charged) and the caller retries the items one by one.
CREATE FUNCTION "billing_charge_usage_batch"(p_items JSONB)
RETURNS TABLE (idx INT, outcome TEXT, usage_id UUID, transaction_id UUID, credits NUMERIC, balance NUMERIC,
               available NUMERIC, correlation_id TEXT, model TEXT, hold_id UUID)
LANGUAGE plpgsql AS $$
DECLARE
  item RECORD;
BEGIN
  FOR item IN
    SELECT * FROM jsonb_to_recordset(p_items) AS x("i" INT, "user_id" TEXT, "request_id" TEXT, "model" TEXT, "family" TEXT,
      "input_tokens" BIGINT, "output_tokens" BIGINT, "cached_tokens" BIGINT, "payload_hash" TEXT, "correlation_id" TEXT, "metadata" JSONB)
    ORDER BY x."user_id", x."i"
  LOOP
    RETURN QUERY SELECT item."i", r."outcome", r."usage_id", r."transaction_id", r."credits", r."balance", r."available",
        r."correlation_id", r."model", r."hold_id"
      FROM "billing_charge_usage"(item."user_id", item."request_id", item."model", item."family", item."input_tokens",
        item."output_tokens", item."cached_tokens", item."payload_hash", item."correlation_id", item."metadata") r;
  END LOOP;
END $$;
