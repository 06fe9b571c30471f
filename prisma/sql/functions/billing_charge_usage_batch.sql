-- Group commit for usage charges: the charges that arrive while earlier ones are in flight go to
-- the database as ONE statement, one transaction, one WAL flush, one round trip.
-- The rule is billing_charge_usage's (see its file). test/usage/charge-batch.property.test.ts proves
-- that this function answers and leaves the ledger, holds and events exactly as billing_charge_usage called
-- for each item in wallet order, then arrival order: a change to either file needs the same change in the
-- other. The set-based path writes the bodies of billing_event_balance_low / _depleted in its own statement.
--
-- Set-based path: a batch whose items each name a different, existing wallet and are plain first
-- charges (no earlier usage, no active hold for the request, a known model, a cost above zero) is
-- charged in four statements in all instead of about a dozen per item: most of a charge's backend
-- CPU inside a batch was executor start-up for single-row statements, not the rows.
-- Every other batch (a hot wallet, replays, settles, a wallet to create, zero-cost calls, or a batch
-- that a concurrent copy or hold turns complex while it waits for its locks) calls
-- billing_charge_usage per item, so replays, mismatches, settles and the 402 rule are exactly its own.
-- Why the re-check after the locks is enough: every writer of a user's usages, holds or balance
-- (billing_charge_usage, billing_place_hold, billing_release_hold, billing_post_wallet) locks that
-- user's wallet row first, so nothing can commit for these users between the locks and the charge.
-- A new writer must keep that rule.
-- Locks: the wallets are taken in user_id order, as the loop takes them, so two batches (either
-- path) never wait on each other in opposite orders. The re-check and the charge run as statements
-- after the locks, so they read what committed while this batch waited (READ COMMITTED takes a new
-- snapshot per statement). A copy of a request that commits between the re-check and the insert
-- still cannot be charged twice: the unique keys on usages and ledger_transactions reject it, the
-- batch rolls back and the caller retries its items one by one. If any item raises, the whole
-- batch rolls back (nothing charged) and the caller retries the items one by one.
CREATE OR REPLACE FUNCTION "billing_charge_usage_batch"(p_items JSONB)
RETURNS TABLE (idx INT, outcome TEXT, usage_id UUID, transaction_id UUID, credits NUMERIC, balance NUMERIC,
               available NUMERIC, correlation_id TEXT, model TEXT, hold_id UUID)
LANGUAGE plpgsql AS $$
DECLARE
  item RECORD;
  v_simple BOOLEAN;
BEGIN
  -- Before any lock, so a batch of replays never queues behind charges. Lookups are scalar
  -- subqueries on unique keys: the planner cannot turn them into a hash of a whole table, as it did
  -- with EXISTS while the statistics of a young database still called usages small.
  -- COALESCE: bool_and skips NULLs, and an item this check cannot judge must take the loop.
  SELECT count(DISTINCT x."user_id") = count(*)
     AND bool_and(COALESCE((SELECT a."id" FROM "accounts" a WHERE a."user_id" = x."user_id") IS NOT NULL
                  AND (rc."card")."id" IS NOT NULL
                  AND "billing_usage_cost"(rc."card", x."input_tokens", x."output_tokens", x."cached_tokens") > 0
                  AND (SELECT u."id" FROM "usages" u WHERE u."user_id" = x."user_id" AND u."request_id" = x."request_id") IS NULL
                  AND (SELECT h."status" FROM "holds" h WHERE h."user_id" = x."user_id" AND h."request_id" = x."request_id") IS DISTINCT FROM 'active',
                  false))
  INTO v_simple
  FROM jsonb_to_recordset(p_items) AS x("user_id" TEXT, "request_id" TEXT, "family" TEXT,
    "input_tokens" BIGINT, "output_tokens" BIGINT, "cached_tokens" BIGINT)
  LEFT JOIN LATERAL (SELECT c AS "card" FROM "rate_cards" c WHERE c."model" = x."family" AND c."effective_from" <= now()
                     ORDER BY c."effective_from" DESC LIMIT 1) rc ON true;

  IF v_simple THEN
    PERFORM 1 FROM "accounts" a
    WHERE a."user_id" = ANY (ARRAY(SELECT x."user_id" FROM jsonb_to_recordset(p_items) AS x("user_id" TEXT)))
    ORDER BY a."user_id" FOR UPDATE;
    SELECT bool_and((SELECT u."id" FROM "usages" u WHERE u."user_id" = x."user_id" AND u."request_id" = x."request_id") IS NULL
                AND (SELECT h."status" FROM "holds" h WHERE h."user_id" = x."user_id" AND h."request_id" = x."request_id") IS DISTINCT FROM 'active')
    INTO v_simple
    FROM jsonb_to_recordset(p_items) AS x("user_id" TEXT, "request_id" TEXT);
  END IF;

  IF v_simple THEN
    RETURN QUERY
    WITH priced AS MATERIALIZED (
      SELECT x."i", x."user_id", x."request_id", x."model", x."input_tokens", x."output_tokens", x."cached_tokens",
             x."payload_hash", x."correlation_id", x."metadata", a."id" AS "account_id", a."balance", (rc."card")."id" AS "card_id",
             a."low_balance_threshold" AS "threshold", a."low_balance_armed" AS "low_armed", a."depleted_armed",
             "billing_usage_cost"(rc."card", x."input_tokens", x."output_tokens", x."cached_tokens") AS "cost",
             (SELECT COALESCE(SUM(ah."amount"), 0) FROM "holds" ah
              WHERE ah."account_id" = a."id" AND ah."status" = 'active' AND ah."expires_at" > now()) AS "held",
             gen_random_uuid() AS "tx_id"
      FROM jsonb_to_recordset(p_items) AS x("i" INT, "user_id" TEXT, "request_id" TEXT, "model" TEXT, "family" TEXT,
        "input_tokens" BIGINT, "output_tokens" BIGINT, "cached_tokens" BIGINT, "payload_hash" TEXT, "correlation_id" TEXT, "metadata" JSONB)
      CROSS JOIN LATERAL (SELECT a."id", a."balance", a."low_balance_threshold", a."low_balance_armed", a."depleted_armed"
                          FROM "accounts" a WHERE a."user_id" = x."user_id" LIMIT 1) a
      CROSS JOIN LATERAL (SELECT c AS "card" FROM "rate_cards" c WHERE c."model" = x."family" AND c."effective_from" <= now()
                          ORDER BY c."effective_from" DESC LIMIT 1) rc
    ), ok AS (
      SELECT * FROM priced p WHERE p."balance" - p."held" >= p."cost"
    ), wallet AS (
      UPDATE "accounts" a SET "balance" = a."balance" - ok."cost", "updated_at" = now(),
        "low_balance_armed" = (ok."threshold" IS NULL OR a."balance" - ok."cost" - ok."held" >= ok."threshold")
      FROM ok WHERE a."id" = ok."account_id" AND a."id" = ANY (ARRAY(SELECT ok."account_id" FROM ok))
      RETURNING a."id", a."balance"
    ), tx AS (
      INSERT INTO "ledger_transactions" ("id", "type", "business_key", "correlation_id", "reference", "created_at")
      SELECT ok."tx_id", 'usage', "billing_usage_business_key"(ok."user_id", ok."request_id"),
             ok."correlation_id", ok."request_id", now()
      FROM ok
    ), legs AS (
      INSERT INTO "postings" ("transaction_id", "account_id", "amount", "balance_after", "overdraft_allowed", "created_at")
      SELECT ok."tx_id", ok."account_id", -ok."cost", w."balance", false, now() FROM ok JOIN wallet w ON w."id" = ok."account_id"
      UNION ALL
      SELECT ok."tx_id", (SELECT s."id" FROM "accounts" s WHERE s."code" = 'usage_revenue'), ok."cost", NULL, false, now() FROM ok
    ), used AS (
      INSERT INTO "usages" ("user_id", "request_id", "account_id", "model", "rate_card_id", "input_tokens", "output_tokens",
        "cached_input_tokens", "credits", "balance_after", "payload_hash", "transaction_id", "hold_id", "correlation_id", "metadata", "created_at")
      SELECT ok."user_id", ok."request_id", ok."account_id", ok."model", ok."card_id", ok."input_tokens", ok."output_tokens",
             ok."cached_tokens", ok."cost", w."balance", ok."payload_hash", ok."tx_id", NULL, ok."correlation_id", ok."metadata", now()
      FROM ok JOIN wallet w ON w."id" = ok."account_id"
      RETURNING "usages"."id", "usages"."account_id"
    ), rolled AS (
      -- One upsert for the batch: aggregated first, since one statement may not update a row twice.
      INSERT INTO "usage_daily" AS d ("user_id", "day", "model", "requests", "input_tokens", "output_tokens",
        "cached_input_tokens", "credits")
      SELECT ok."user_id", (now() AT TIME ZONE 'UTC')::date, ok."model", count(*), sum(ok."input_tokens"),
             sum(ok."output_tokens"), sum(ok."cached_tokens"), sum(ok."cost")
      FROM ok GROUP BY 1, 2, 3
      ON CONFLICT ON CONSTRAINT "usage_daily_pkey" DO UPDATE SET "requests" = d."requests" + excluded."requests",
        "input_tokens" = d."input_tokens" + excluded."input_tokens",
        "output_tokens" = d."output_tokens" + excluded."output_tokens",
        "cached_input_tokens" = d."cached_input_tokens" + excluded."cached_input_tokens",
        "credits" = d."credits" + excluded."credits"
    ), low AS (
      INSERT INTO "events" ("type", "user_id", "data", "created_at")
      SELECT 'balance.low', ok."user_id",
             jsonb_build_object('available', trim_scale(w."balance" - ok."held")::text, 'thresholdCredits', trim_scale(ok."threshold")::text), now()
      FROM ok JOIN wallet w ON w."id" = ok."account_id"
      WHERE ok."low_armed" AND w."balance" - ok."held" < ok."threshold"
    ), refused AS (
      -- Each item names a different wallet, so this never touches a row that "wallet" updates.
      SELECT p.* FROM priced p WHERE p."balance" - p."held" < p."cost" AND p."depleted_armed"
    ), disarmed AS (
      UPDATE "accounts" a SET "depleted_armed" = false
      FROM refused r WHERE a."id" = r."account_id" AND a."id" = ANY (ARRAY(SELECT r."account_id" FROM refused r))
      RETURNING a."id"
    ), depleted AS (
      INSERT INTO "events" ("type", "user_id", "data", "created_at")
      SELECT 'balance.depleted', r."user_id",
             jsonb_build_object('available', trim_scale(r."balance" - r."held")::text, 'requiredCredits', trim_scale(r."cost")::text), now()
      FROM refused r JOIN disarmed d ON d."id" = r."account_id"
    )
    SELECT p."i",
           CASE WHEN used."id" IS NULL THEN 'insufficient' ELSE 'charged' END,
           used."id", CASE WHEN used."id" IS NULL THEN NULL ELSE p."tx_id" END, p."cost",
           COALESCE(w."balance", p."balance"), COALESCE(w."balance", p."balance") - p."held",
           CASE WHEN used."id" IS NULL THEN NULL ELSE p."correlation_id" END, p."model", NULL::UUID
    FROM priced p
    LEFT JOIN wallet w ON w."id" = p."account_id"
    LEFT JOIN used ON used."account_id" = p."account_id";
    RETURN;
  END IF;

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
