-- Credit purchases through Stripe Checkout, and the record of every verified Stripe event.

CREATE TABLE "purchases" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" TEXT NOT NULL,
    "package_id" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    -- what the package was sold at: a later price change never rewrites a purchase
    "price_cents" INTEGER NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'usd',
    "credits" DECIMAL(38,18) NOT NULL,
    "bonus_credits" DECIMAL(38,18) NOT NULL,
    "checkout_session_id" TEXT,
    "checkout_url" TEXT,
    "payment_intent_id" TEXT,
    "amount_paid_cents" INTEGER,
    -- cumulative amounts as Stripe last reported them; take-backs are computed from these
    "amount_refunded_cents" INTEGER NOT NULL DEFAULT 0,
    "amount_disputed_cents" INTEGER NOT NULL DEFAULT 0,
    "credits_refunded" DECIMAL(38,18) NOT NULL DEFAULT 0,
    "credits_disputed" DECIMAL(38,18) NOT NULL DEFAULT 0,
    "failure_reason" TEXT,
    "correlation_id" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "paid_at" TIMESTAMPTZ(6),
    CONSTRAINT "purchases_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "purchases_status_check" CHECK ("status" IN ('pending', 'paid', 'failed', 'expired', 'refunded', 'partially_refunded', 'disputed')),
    CONSTRAINT "purchases_amounts_check" CHECK ("price_cents" > 0 AND "credits" > 0 AND "bonus_credits" >= 0
      AND "amount_refunded_cents" >= 0 AND "amount_disputed_cents" >= 0 AND "credits_refunded" >= 0 AND "credits_disputed" >= 0)
);
CREATE UNIQUE INDEX "purchases_checkout_session_id_key" ON "purchases"("checkout_session_id");
CREATE UNIQUE INDEX "purchases_payment_intent_id_key" ON "purchases"("payment_intent_id");
CREATE INDEX "purchases_user_id_created_at_idx" ON "purchases"("user_id", "created_at");
CREATE INDEX "purchases_created_at_idx" ON "purchases"("created_at");

-- One row per verified event id: the claim that makes a redelivery a no-op. A row is written
-- in the same transaction as the event's effects, or (outcome failed) after they rolled back.
CREATE TABLE "stripe_events" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "object_id" TEXT,
    "error" TEXT,
    "correlation_id" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 1,
    "received_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(6),
    CONSTRAINT "stripe_events_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "stripe_events_outcome_check" CHECK ("outcome" IN ('processed', 'ignored', 'failed'))
);
CREATE INDEX "stripe_events_received_at_idx" ON "stripe_events"("received_at");
