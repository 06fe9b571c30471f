-- Outbound events (a transactional outbox), billing settings with the low-balance threshold, the
-- low-balance and depletion checks inside the money functions, and the index behind the usage summary.
--
-- Every function this migration changes is given in full, one section per function, so each can be
-- carried over as a whole into its own file. The rules they share:
--   * An event row is inserted by the statement or function that writes the fact, so it commits or
--     rolls back with it: no event for a fact that rolled back, no fact without its event.
--   * The wallet row carries what the charge path needs to decide a crossing (the threshold and two
--     armed flags), read by the SELECT ... FOR UPDATE that already locks it: no second query.
--   * low_balance_armed always says "available was at or above the threshold after the last
--     movement". A movement that leaves available below it while armed emits balance.low once.
--   * depleted_armed is set by any credit and cleared by the balance.depleted it allows.

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------

CREATE TABLE "events" (
    -- creation order; per-user delivery order follows it (a user's events are written under the
    -- user's wallet lock, so for one user seq order is commit order)
    "seq" BIGSERIAL NOT NULL,
    "id" TEXT NOT NULL DEFAULT ('evt_' || replace(gen_random_uuid()::text, '-', '')),
    "type" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- a dispatcher's claim: another replica skips the event until it has passed
    "lease_until" TIMESTAMPTZ(6),
    "last_attempt_at" TIMESTAMPTZ(6),
    "last_status_code" INTEGER,
    "last_error" TEXT,
    "delivered_at" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "events_pkey" PRIMARY KEY ("seq"),
    CONSTRAINT "events_status_check" CHECK ("status" IN ('pending', 'delivered', 'failed')),
    CONSTRAINT "events_delivered_check" CHECK (("status" = 'delivered') = ("delivered_at" IS NOT NULL)),
    CONSTRAINT "events_attempts_check" CHECK ("attempts" >= 0)
);
CREATE UNIQUE INDEX "events_id_key" ON "events"("id");
-- the dispatcher's scan: only pending rows, soonest first
CREATE INDEX "events_next_attempt_at_idx" ON "events"("next_attempt_at") WHERE "status" = 'pending';
-- per-user order: "is an older event of this user still pending?" never reads delivered rows
CREATE INDEX "events_user_id_seq_pending_idx" ON "events"("user_id", "seq") WHERE "status" = 'pending';
-- the admin list's filters, newest first
-- (a user has few events: purchases, take-backs, crossings; a sort of them is cheap)
CREATE INDEX "events_user_id_created_at_idx" ON "events"("user_id", "created_at");
CREATE INDEX "events_status_seq_idx" ON "events"("status", "seq");
CREATE INDEX "events_type_seq_idx" ON "events"("type", "seq");

-- One row per user who changed a setting. The auto top-up settings add their columns here.
CREATE TABLE "billing_settings" (
    "user_id" TEXT NOT NULL,
    "low_balance_threshold_credits" DECIMAL(38,18),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "billing_settings_pkey" PRIMARY KEY ("user_id"),
    CONSTRAINT "billing_settings_low_balance_check" CHECK ("low_balance_threshold_credits" IS NULL OR "low_balance_threshold_credits" >= 0)
);

-- The wallet's copy of the threshold (written with billing_settings in one transaction) and the flags.
ALTER TABLE "accounts" ADD COLUMN "low_balance_threshold" DECIMAL(38,18);
ALTER TABLE "accounts" ADD COLUMN "low_balance_armed" BOOLEAN NOT NULL DEFAULT true;
-- Existing wallets start armed (they were, as a rule, credited: their next 402 is a depletion)
-- without rewriting the table or locking every wallet; wallets created from now on start disarmed
-- until their first credit.
ALTER TABLE "accounts" ADD COLUMN "depleted_armed" BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE "accounts" ALTER COLUMN "depleted_armed" SET DEFAULT false;

-- GET /v1/usage/summary: one user's usages in a time range, read from the index alone (index-only
-- scan), so a user with a million usages never touches the heap.
-- On a large table, build it first with CREATE INDEX CONCURRENTLY (same name and definition): this
-- migration runs in a transaction, where a plain build would block charges until it finishes.
CREATE INDEX IF NOT EXISTS "usages_user_id_created_at_idx" ON "usages"("user_id", "created_at")
  INCLUDE ("model", "input_tokens", "output_tokens", "cached_input_tokens", "credits");

-- ---------------------------------------------------------------------------------------------
-- Function billing_charge_usage: the depletion and crossing checks added.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION "billing_charge_usage"(
  p_user_id TEXT, p_request_id TEXT, p_model TEXT, p_card_model TEXT,
  p_input BIGINT, p_output BIGINT, p_cached BIGINT,
  p_payload_hash TEXT, p_correlation_id TEXT, p_metadata JSONB)
RETURNS TABLE (outcome TEXT, usage_id UUID, transaction_id UUID, credits NUMERIC, balance NUMERIC,
               available NUMERIC, correlation_id TEXT, model TEXT, hold_id UUID, created_at TIMESTAMPTZ)
LANGUAGE plpgsql AS $$
DECLARE
  v_prior "usages"%ROWTYPE;
  v_card "rate_cards"%ROWTYPE;
  v_hold "holds"%ROWTYPE;
  v_account_id BIGINT;
  v_balance NUMERIC;
  v_threshold NUMERIC;
  v_low_armed BOOLEAN;
  v_depleted_armed BOOLEAN;
  v_held NUMERIC;
  v_cost NUMERIC;
  v_tx UUID;
  v_usage UUID;
  v_now TIMESTAMPTZ := now();
BEGIN
  -- Replays are answered before taking the wallet lock, so they never queue behind charges.
  SELECT * INTO v_prior FROM "usages" u WHERE u."user_id" = p_user_id AND u."request_id" = p_request_id;
  IF FOUND THEN
    RETURN QUERY SELECT CASE WHEN v_prior."payload_hash" = p_payload_hash THEN 'replay' ELSE 'mismatch' END,
      v_prior."id", v_prior."transaction_id", v_prior."credits", v_prior."balance_after", NULL::NUMERIC,
      v_prior."correlation_id", v_prior."model", v_prior."hold_id", v_prior."created_at";
    RETURN;
  END IF;

  SELECT * INTO v_card FROM "rate_cards" c
  WHERE c."model" = p_card_model AND c."effective_from" <= v_now ORDER BY c."effective_from" DESC LIMIT 1;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'unknown_model'::TEXT, NULL::UUID, NULL::UUID, NULL::NUMERIC, NULL::NUMERIC, NULL::NUMERIC, NULL::TEXT, p_model, NULL::UUID, NULL::TIMESTAMPTZ;
    RETURN;
  END IF;
  v_cost := "billing_usage_cost"(v_card, p_input, p_output, p_cached);

  SELECT a."id", a."balance", a."low_balance_threshold", a."low_balance_armed", a."depleted_armed"
  INTO v_account_id, v_balance, v_threshold, v_low_armed, v_depleted_armed
  FROM "accounts" a WHERE a."user_id" = p_user_id FOR UPDATE;
  IF NOT FOUND THEN
    -- No wallet never could pay: no depletion to report.
    IF v_cost > 0 THEN
      RETURN QUERY SELECT 'insufficient'::TEXT, NULL::UUID, NULL::UUID, v_cost, 0::NUMERIC, 0::NUMERIC, NULL::TEXT, p_model, NULL::UUID, NULL::TIMESTAMPTZ;
      RETURN;
    END IF;
    INSERT INTO "accounts" ("kind", "user_id") VALUES ('wallet', p_user_id) ON CONFLICT ("user_id") DO NOTHING;
    SELECT a."id", a."balance", a."low_balance_threshold", a."low_balance_armed", a."depleted_armed"
    INTO v_account_id, v_balance, v_threshold, v_low_armed, v_depleted_armed
    FROM "accounts" a WHERE a."user_id" = p_user_id FOR UPDATE;
  END IF;

  -- A concurrent copy of this request may have committed while we waited for the lock.
  SELECT * INTO v_prior FROM "usages" u WHERE u."user_id" = p_user_id AND u."request_id" = p_request_id;
  IF FOUND THEN
    RETURN QUERY SELECT CASE WHEN v_prior."payload_hash" = p_payload_hash THEN 'replay' ELSE 'mismatch' END,
      v_prior."id", v_prior."transaction_id", v_prior."credits", v_prior."balance_after", NULL::NUMERIC,
      v_prior."correlation_id", v_prior."model", v_prior."hold_id", v_prior."created_at";
    RETURN;
  END IF;

  -- A hold for this request means the call was reserved for and has happened: settle it in full.
  -- Locked, so a concurrent release either ends it first (and this is a plain, guarded charge)
  -- or waits until this settle commits.
  SELECT * INTO v_hold FROM "holds" h WHERE h."user_id" = p_user_id AND h."request_id" = p_request_id AND h."status" = 'active' FOR UPDATE;
  SELECT COALESCE(SUM(ah."amount"), 0) INTO v_held FROM "holds" ah
  WHERE ah."account_id" = v_account_id AND ah."status" = 'active' AND ah."expires_at" > now()
    AND ah."id" IS DISTINCT FROM v_hold."id";
  IF v_hold."id" IS NULL AND v_balance - v_held < v_cost THEN
    -- The first 402 since the wallet was last credited reports the depletion, once.
    IF v_depleted_armed THEN
      UPDATE "accounts" a SET "depleted_armed" = false WHERE a."id" = v_account_id;
      INSERT INTO "events" ("type", "user_id", "data", "created_at")
      VALUES ('balance.depleted', p_user_id,
              jsonb_build_object('available', trim_scale(v_balance - v_held)::text, 'requiredCredits', trim_scale(v_cost)::text), v_now);
    END IF;
    RETURN QUERY SELECT 'insufficient'::TEXT, NULL::UUID, NULL::UUID, v_cost, v_balance, v_balance - v_held, NULL::TEXT, p_model, NULL::UUID, NULL::TIMESTAMPTZ;
    RETURN;
  END IF;

  IF v_cost > 0 THEN
    -- The armed flag is rewritten by the UPDATE the charge makes anyway: no extra statement.
    UPDATE "accounts" a SET "balance" = a."balance" - v_cost, "updated_at" = v_now,
      "low_balance_armed" = (v_threshold IS NULL OR a."balance" - v_cost - v_held >= v_threshold)
    WHERE a."id" = v_account_id RETURNING a."balance" INTO v_balance;
    INSERT INTO "ledger_transactions" ("type", "business_key", "correlation_id", "reference", "created_at")
    VALUES ('usage', 'usage:' || length(p_user_id) || ':' || p_user_id || ':' || p_request_id, p_correlation_id, p_request_id, v_now)
    RETURNING "id" INTO v_tx;
    INSERT INTO "postings" ("transaction_id", "account_id", "amount", "balance_after", "overdraft_allowed", "created_at") VALUES
      (v_tx, v_account_id, -v_cost, v_balance, v_hold."id" IS NOT NULL, v_now),
      (v_tx, (SELECT s."id" FROM "accounts" s WHERE s."code" = 'usage_revenue'), v_cost, NULL, false, v_now);
    IF v_low_armed AND v_balance - v_held < v_threshold THEN
      INSERT INTO "events" ("type", "user_id", "data", "created_at")
      VALUES ('balance.low', p_user_id,
              jsonb_build_object('available', trim_scale(v_balance - v_held)::text, 'thresholdCredits', trim_scale(v_threshold)::text), v_now);
    END IF;
  END IF;

  INSERT INTO "usages" ("user_id", "request_id", "account_id", "model", "rate_card_id", "input_tokens", "output_tokens",
    "cached_input_tokens", "credits", "balance_after", "payload_hash", "transaction_id", "hold_id", "correlation_id", "metadata", "created_at")
  VALUES (p_user_id, p_request_id, v_account_id, p_model, v_card."id", p_input, p_output, p_cached, v_cost, v_balance,
    p_payload_hash, v_tx, v_hold."id", p_correlation_id, p_metadata, v_now)
  RETURNING "id" INTO v_usage;

  IF v_hold."id" IS NOT NULL THEN
    UPDATE "holds" h SET "status" = 'settled', "ended_at" = v_now, "usage_id" = v_usage WHERE h."id" = v_hold."id" AND h."status" = 'active';
  END IF;

  RETURN QUERY SELECT 'charged'::TEXT, v_usage, v_tx, v_cost, v_balance, v_balance - v_held, p_correlation_id, p_model, v_hold."id", v_now;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Function billing_charge_usage_batch: the set-based path reports crossings and depletions the
-- way billing_charge_usage does; the per-item loop calls billing_charge_usage and so already does.
-- ---------------------------------------------------------------------------------------------
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
      SELECT ok."tx_id", 'usage', 'usage:' || length(ok."user_id") || ':' || ok."user_id" || ':' || ok."request_id",
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

-- ---------------------------------------------------------------------------------------------
-- Function billing_place_hold: a hold lowers available, so it can cross the threshold; a 402 here
-- is a depletion like a charge's.
-- ---------------------------------------------------------------------------------------------
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

  SELECT a."id", a."balance", a."low_balance_threshold", a."low_balance_armed", a."depleted_armed"
  INTO v_account_id, v_balance, v_threshold, v_low_armed, v_depleted_armed
  FROM "accounts" a WHERE a."user_id" = p_user_id FOR UPDATE;
  IF NOT FOUND THEN
    IF v_cost > 0 THEN
      RETURN QUERY SELECT 'insufficient'::TEXT, NULL::UUID, v_cost, 0::NUMERIC, 0::NUMERIC, NULL::TIMESTAMPTZ, NULL::TEXT;
      RETURN;
    END IF;
    INSERT INTO "accounts" ("kind", "user_id") VALUES ('wallet', p_user_id) ON CONFLICT ("user_id") DO NOTHING;
    SELECT a."id", a."balance", a."low_balance_threshold", a."low_balance_armed", a."depleted_armed"
    INTO v_account_id, v_balance, v_threshold, v_low_armed, v_depleted_armed
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
      INSERT INTO "events" ("type", "user_id", "data", "created_at")
      VALUES ('balance.depleted', p_user_id,
              jsonb_build_object('available', trim_scale(v_available)::text, 'requiredCredits', trim_scale(v_cost)::text), v_now);
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
      INSERT INTO "events" ("type", "user_id", "data", "created_at")
      VALUES ('balance.low', p_user_id,
              jsonb_build_object('available', trim_scale(v_available - v_cost)::text, 'thresholdCredits', trim_scale(v_threshold)::text), v_now);
    END IF;
  END IF;

  RETURN QUERY SELECT 'held'::TEXT, v_hold, v_cost, v_balance, v_available - v_cost, v_expires, 'active'::TEXT;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Function billing_release_hold: a release raises available, so it can re-arm the low-balance notice.
-- ---------------------------------------------------------------------------------------------
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

-- ---------------------------------------------------------------------------------------------
-- Function billing_post_wallet: any credit re-arms the depletion notice; a take-back can cross the
-- low-balance threshold and a credit can re-arm it.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION "billing_post_wallet"(
  p_user_id TEXT, p_type TEXT, p_business_key TEXT, p_counter_code TEXT, p_amount NUMERIC,
  p_allow_negative BOOLEAN, p_correlation_id TEXT, p_reference TEXT, p_actor TEXT, p_metadata JSONB)
RETURNS TABLE (outcome TEXT, transaction_id UUID, amount NUMERIC, balance NUMERIC, correlation_id TEXT, reference TEXT, created_at TIMESTAMPTZ)
LANGUAGE plpgsql AS $$
DECLARE
  v_account_id BIGINT;
  v_balance NUMERIC;
  v_threshold NUMERIC;
  v_low_armed BOOLEAN;
  v_held NUMERIC := 0;
  v_tx UUID;
  v_now TIMESTAMPTZ := now();
BEGIN
  INSERT INTO "accounts" ("kind", "user_id") VALUES ('wallet', p_user_id) ON CONFLICT ("user_id") DO NOTHING;
  SELECT a."id", a."balance", a."low_balance_threshold", a."low_balance_armed" INTO v_account_id, v_balance, v_threshold, v_low_armed
  FROM "accounts" a WHERE a."user_id" = p_user_id FOR UPDATE;

  -- The same business key must mean the same movement; anything else is a caller's mistake.
  RETURN QUERY SELECT CASE WHEN p."account_id" = v_account_id AND p."amount" = p_amount AND t."type" = p_type THEN 'replay' ELSE 'mismatch' END,
      t."id", p."amount", p."balance_after", t."correlation_id", t."reference", t."created_at"
    FROM "ledger_transactions" t JOIN "postings" p ON p."transaction_id" = t."id"
    JOIN "accounts" a ON a."id" = p."account_id" AND a."kind" = 'wallet'
    WHERE t."business_key" = p_business_key;
  IF FOUND THEN RETURN; END IF;

  IF p_amount < 0 AND NOT p_allow_negative AND v_balance + p_amount < 0 THEN
    RETURN QUERY SELECT 'insufficient'::TEXT, NULL::UUID, p_amount, v_balance, NULL::TEXT, NULL::TEXT, NULL::TIMESTAMPTZ;
    RETURN;
  END IF;

  IF v_threshold IS NOT NULL THEN
    v_held := "billing_active_holds"(v_account_id, NULL);
  END IF;
  UPDATE "accounts" a SET "balance" = a."balance" + p_amount, "updated_at" = v_now,
    "depleted_armed" = a."depleted_armed" OR p_amount > 0,
    "low_balance_armed" = (v_threshold IS NULL OR a."balance" + p_amount - v_held >= v_threshold)
  WHERE a."id" = v_account_id RETURNING a."balance" INTO v_balance;
  INSERT INTO "ledger_transactions" ("type", "business_key", "correlation_id", "reference", "actor", "metadata", "created_at")
  VALUES (p_type, p_business_key, p_correlation_id, p_reference, p_actor, p_metadata, v_now)
  RETURNING "id" INTO v_tx;
  INSERT INTO "postings" ("transaction_id", "account_id", "amount", "balance_after", "overdraft_allowed", "created_at") VALUES
    (v_tx, v_account_id, p_amount, v_balance, p_amount < 0 AND p_allow_negative, v_now),
    (v_tx, (SELECT s."id" FROM "accounts" s WHERE s."code" = p_counter_code), -p_amount, NULL, false, v_now);
  -- Only a debit crosses below; a credit that still leaves available below the threshold does not.
  IF p_amount < 0 AND v_low_armed AND v_balance - v_held < v_threshold THEN
    INSERT INTO "events" ("type", "user_id", "data", "created_at")
    VALUES ('balance.low', p_user_id,
            jsonb_build_object('available', trim_scale(v_balance - v_held)::text, 'thresholdCredits', trim_scale(v_threshold)::text), v_now);
  END IF;

  RETURN QUERY SELECT 'posted'::TEXT, v_tx, p_amount, v_balance, p_correlation_id, p_reference, v_now;
END $$;
