-- Outbound events (a transactional outbox), billing settings with the low-balance threshold, the
-- wallet columns the money functions read to report a crossing or a depletion, and the rollup behind
-- the usage summary. The functions themselves (billing_charge_usage, billing_charge_usage_batch,
-- billing_place_hold, billing_release_hold, billing_post_wallet) live in prisma/sql/functions/, applied
-- after this migration; their signatures are unchanged, so nothing is dropped here.

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

-- GET /v1/usage/summary reads this rollup: one row per (user, UTC day, model as charged), upserted by
-- billing_charge_usage and billing_charge_usage_batch in the charge's own transaction, so a summary
-- reads at most days x models rows however many usages a user has. Sums of BIGINT token counts per
-- day stay far below 2^63.
CREATE TABLE "usage_daily" (
    "user_id" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "model" TEXT NOT NULL,
    "requests" BIGINT NOT NULL,
    "input_tokens" BIGINT NOT NULL,
    "output_tokens" BIGINT NOT NULL,
    "cached_input_tokens" BIGINT NOT NULL,
    "credits" DECIMAL(38,18) NOT NULL,
    CONSTRAINT "usage_daily_pkey" PRIMARY KEY ("user_id", "day", "model")
);

-- Backfill from the usages already charged. SHARE mode blocks new usages until this transaction
-- commits, so none is counted twice or missed by the backfill itself (see docs/events.md for the
-- moment between this commit and the function files' commit).
LOCK TABLE "usages" IN SHARE MODE;
INSERT INTO "usage_daily" ("user_id", "day", "model", "requests", "input_tokens", "output_tokens", "cached_input_tokens", "credits")
SELECT u."user_id", (u."created_at" AT TIME ZONE 'UTC')::date, u."model", count(*), sum(u."input_tokens"),
       sum(u."output_tokens"), sum(u."cached_input_tokens"), sum(u."credits")
FROM "usages" u
GROUP BY 1, 2, 3;
