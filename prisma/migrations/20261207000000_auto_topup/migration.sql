-- Auto top-up with a saved card (docs/auto-topup.md): the user's Stripe Customer and saved card,
-- the auto top-up settings, the attempts, and the trigger that starts an attempt in the debit's own
-- transaction. The functions live in prisma/sql/functions/ (billing_autotopup_check,
-- billing_autotopup_after_debit), applied after this migration; the trigger needs its function to
-- exist, so a placeholder is created here and replaced by the file.

ALTER TABLE "billing_settings"
    ADD COLUMN "stripe_customer_id" TEXT,
    ADD COLUMN "payment_method_id" TEXT,
    ADD COLUMN "card_brand" TEXT,
    ADD COLUMN "card_last4" TEXT,
    ADD COLUMN "card_exp_month" INTEGER,
    ADD COLUMN "card_exp_year" INTEGER,
    ADD COLUMN "auto_topup_status" TEXT NOT NULL DEFAULT 'off',
    ADD COLUMN "auto_topup_paused_reason" TEXT,
    ADD COLUMN "auto_topup_threshold_credits" DECIMAL(38,18),
    -- the package as chosen: its price and credits are copied, so an attempt never reads the catalog
    ADD COLUMN "auto_topup_package_id" TEXT,
    ADD COLUMN "auto_topup_price_cents" INTEGER,
    ADD COLUMN "auto_topup_credits" DECIMAL(38,18),
    ADD COLUMN "auto_topup_bonus_credits" DECIMAL(38,18),
    ADD COLUMN "auto_topup_monthly_limit_cents" BIGINT,
    -- failed attempts since the last success; AUTO_TOPUP_MAX_FAILURES of them pause auto top-up
    ADD COLUMN "auto_topup_failures" INTEGER NOT NULL DEFAULT 0,
    -- the UTC month whose topup.limit_reached was sent (once a month)
    ADD COLUMN "auto_topup_limit_notice_month" DATE,
    ADD CONSTRAINT "billing_settings_auto_topup_status_check"
        CHECK ("auto_topup_status" IN ('off', 'active', 'paused')),
    ADD CONSTRAINT "billing_settings_auto_topup_active_check" CHECK ("auto_topup_status" <> 'active' OR (
        "stripe_customer_id" IS NOT NULL AND "payment_method_id" IS NOT NULL
        AND "auto_topup_threshold_credits" >= 0 AND "auto_topup_package_id" IS NOT NULL
        AND "auto_topup_price_cents" > 0 AND "auto_topup_credits" > 0 AND "auto_topup_bonus_credits" >= 0
        AND "auto_topup_monthly_limit_cents" >= "auto_topup_price_cents")),
    ADD CONSTRAINT "billing_settings_auto_topup_failures_check" CHECK ("auto_topup_failures" >= 0);
CREATE UNIQUE INDEX "billing_settings_stripe_customer_id_key" ON "billing_settings"("stripe_customer_id");

-- The wallet's copy of the threshold: set only while auto top-up is active, written with the settings
-- under the wallet lock, so the debit paths read it with the lock they already hold.
ALTER TABLE "accounts" ADD COLUMN "auto_topup_threshold" DECIMAL(38,18);

CREATE TABLE "topups" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "package_id" TEXT NOT NULL,
    "price_cents" INTEGER NOT NULL,
    "credits" DECIMAL(38,18) NOT NULL,
    "bonus_credits" DECIMAL(38,18) NOT NULL,
    "customer_id" TEXT NOT NULL,
    "payment_method_id" TEXT NOT NULL,
    "payment_intent_id" TEXT,
    "failure_code" TEXT,
    "recovery_url" TEXT,
    -- calls made to Stripe for this attempt (all with its one idempotency key); 0: Stripe never saw it
    "stripe_calls" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- a worker's claim: another replica skips the attempt until it has passed
    "lease_until" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ended_at" TIMESTAMPTZ(6),
    CONSTRAINT "topups_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "topups_status_check"
        CHECK ("status" IN ('pending', 'processing', 'succeeded', 'failed', 'requires_action')),
    CONSTRAINT "topups_amounts_check" CHECK ("price_cents" > 0 AND "credits" > 0 AND "bonus_credits" >= 0),
    CONSTRAINT "topups_stripe_calls_check" CHECK ("stripe_calls" >= 0),
    CONSTRAINT "topups_succeeded_check" CHECK ("status" <> 'succeeded' OR "payment_intent_id" IS NOT NULL)
);
CREATE UNIQUE INDEX "topups_payment_intent_id_key" ON "topups"("payment_intent_id");
-- At most one attempt in flight per user, whatever the number of replicas or concurrent debits.
CREATE UNIQUE INDEX "topups_one_in_flight_key" ON "topups"("user_id")
    WHERE "status" IN ('pending', 'processing', 'requires_action');
-- the worker's scan: attempts to send, and processing ones to look up if Stripe's event is late
CREATE INDEX "topups_next_attempt_at_idx" ON "topups"("next_attempt_at") WHERE "status" IN ('pending', 'processing');
-- a user's list (newest first) and the month's spend
CREATE INDEX "topups_user_id_created_at_idx" ON "topups"("user_id", "created_at");

-- A purchase credited by an auto top-up (no Checkout Session): refunds and disputes of its
-- PaymentIntent take credits back through the purchase, as for any other.
ALTER TABLE "purchases" ADD COLUMN "topup_id" UUID;
CREATE UNIQUE INDEX "purchases_topup_id_key" ON "purchases"("topup_id");
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_topup_id_fkey" FOREIGN KEY ("topup_id") REFERENCES "topups"("id");

-- Placeholder replaced by prisma/sql/functions/billing_autotopup_after_debit.sql.
CREATE OR REPLACE FUNCTION "billing_autotopup_after_debit"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RETURN NULL; END $$;

-- Deferred to the end of the transaction, so it sees the debit's final state (a settled hold no
-- longer counts) and runs once the charge, hold or take-back has done all its writes. The WHEN
-- clause is evaluated without calling the function: a wallet without auto top-up pays nothing.
CREATE CONSTRAINT TRIGGER "accounts_autotopup_after_debit"
    AFTER UPDATE OF "balance", "auto_topup_threshold" ON "accounts"
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (NEW."auto_topup_threshold" IS NOT NULL
          AND (NEW."balance" < OLD."balance" OR OLD."auto_topup_threshold" IS DISTINCT FROM NEW."auto_topup_threshold"))
    EXECUTE FUNCTION "billing_autotopup_after_debit"();
