-- Ledger core: accounts, double-entry transactions and postings, rate cards, usages, holds,
-- idempotency keys. Invariants are enforced here, not only in code.

CREATE TABLE "accounts" (
    "id" BIGSERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "user_id" TEXT,
    "code" TEXT,
    "balance" DECIMAL(38,18) NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "accounts_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "accounts_kind_check" CHECK ("kind" IN ('wallet', 'system')),
    -- a wallet belongs to exactly one user; a system account has a code and no user
    CONSTRAINT "accounts_owner_check" CHECK (("kind" = 'wallet') = ("user_id" IS NOT NULL) AND ("kind" = 'system') = ("code" IS NOT NULL)),
    -- system balances are derived from postings so no hot row serialises every charge
    CONSTRAINT "accounts_system_balance_check" CHECK ("kind" = 'wallet' OR "balance" = 0)
);
CREATE UNIQUE INDEX "accounts_user_id_key" ON "accounts"("user_id");
CREATE UNIQUE INDEX "accounts_code_key" ON "accounts"("code");

CREATE TABLE "ledger_transactions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "type" TEXT NOT NULL,
    "business_key" TEXT NOT NULL,
    "correlation_id" TEXT,
    "reference" TEXT,
    "actor" TEXT,
    "metadata" JSONB,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ledger_transactions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "ledger_transactions_type_check" CHECK ("type" IN ('purchase', 'bonus', 'usage', 'refund', 'dispute', 'dispute_reversal', 'adjustment'))
);
-- each business fact (a user's requestId, a Stripe object, an admin's Idempotency-Key) posts once
CREATE UNIQUE INDEX "ledger_transactions_business_key_key" ON "ledger_transactions"("business_key");
CREATE INDEX "ledger_transactions_created_at_idx" ON "ledger_transactions"("created_at");

CREATE TABLE "postings" (
    "id" BIGSERIAL NOT NULL,
    "transaction_id" UUID NOT NULL,
    "account_id" BIGINT NOT NULL,
    "amount" DECIMAL(38,18) NOT NULL,
    "balance_after" DECIMAL(38,18),
    "overdraft_allowed" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "postings_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "postings_amount_check" CHECK ("amount" <> 0),
    -- a debit may leave a wallet below zero only when the posting says so (refund, dispute,
    -- an admin take-back with allowNegative, a hold settled above its reservation)
    CONSTRAINT "postings_no_overdraft_check" CHECK ("amount" > 0 OR "balance_after" IS NULL OR "balance_after" >= 0 OR "overdraft_allowed")
);
CREATE INDEX "postings_account_id_id_idx" ON "postings"("account_id", "id");
CREATE INDEX "postings_transaction_id_idx" ON "postings"("transaction_id");
ALTER TABLE "postings" ADD CONSTRAINT "postings_transaction_id_fkey" FOREIGN KEY ("transaction_id") REFERENCES "ledger_transactions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "postings" ADD CONSTRAINT "postings_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Double entry, checked at commit: the postings of every transaction sum to zero.
CREATE FUNCTION "billing_assert_transaction_balanced"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total NUMERIC;
BEGIN
  SELECT COALESCE(SUM("amount"), 0) INTO total FROM "postings" WHERE "transaction_id" = NEW."transaction_id";
  IF total <> 0 THEN
    RAISE EXCEPTION 'ledger transaction % does not balance (sum %)', NEW."transaction_id", total USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER "postings_balanced" AFTER INSERT OR UPDATE ON "postings"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "billing_assert_transaction_balanced"();

-- The ledger is append-only.
CREATE FUNCTION "billing_reject_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = '42501';
END $$;
CREATE TRIGGER "postings_append_only" BEFORE UPDATE OR DELETE ON "postings" FOR EACH ROW EXECUTE FUNCTION "billing_reject_change"();
CREATE TRIGGER "ledger_transactions_append_only" BEFORE UPDATE OR DELETE ON "ledger_transactions" FOR EACH ROW EXECUTE FUNCTION "billing_reject_change"();

CREATE TABLE "rate_cards" (
    "id" BIGSERIAL NOT NULL,
    "model" TEXT NOT NULL,
    "input_usd_per_1m" DECIMAL(20,10) NOT NULL,
    "cached_input_usd_per_1m" DECIMAL(20,10),
    "output_usd_per_1m" DECIMAL(20,10) NOT NULL,
    "markup" DECIMAL(10,4) NOT NULL DEFAULT 4,
    "effective_from" TIMESTAMPTZ(6) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "rate_cards_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "rate_cards_prices_check" CHECK ("input_usd_per_1m" >= 0 AND "output_usd_per_1m" >= 0 AND ("cached_input_usd_per_1m" IS NULL OR "cached_input_usd_per_1m" >= 0) AND "markup" > 0)
);
CREATE UNIQUE INDEX "rate_cards_model_effective_from_key" ON "rate_cards"("model", "effective_from");
-- a new price is a new card; past charges keep pointing at the card they were priced with
CREATE TRIGGER "rate_cards_append_only" BEFORE UPDATE OR DELETE ON "rate_cards" FOR EACH ROW EXECUTE FUNCTION "billing_reject_change"();

CREATE TABLE "usages" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" TEXT NOT NULL,
    "request_id" TEXT NOT NULL,
    "account_id" BIGINT NOT NULL,
    "model" TEXT NOT NULL,
    "rate_card_id" BIGINT NOT NULL,
    "input_tokens" BIGINT NOT NULL,
    "output_tokens" BIGINT NOT NULL,
    "cached_input_tokens" BIGINT NOT NULL,
    "credits" DECIMAL(38,18) NOT NULL,
    "balance_after" DECIMAL(38,18) NOT NULL,
    "payload_hash" TEXT NOT NULL,
    "transaction_id" UUID,
    "hold_id" UUID,
    "correlation_id" TEXT,
    "metadata" JSONB,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "usages_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "usages_tokens_check" CHECK ("input_tokens" >= 0 AND "output_tokens" >= 0 AND "cached_input_tokens" >= 0),
    CONSTRAINT "usages_credits_check" CHECK ("credits" >= 0 AND ("credits" = 0) = ("transaction_id" IS NULL))
);
CREATE UNIQUE INDEX "usages_user_id_request_id_key" ON "usages"("user_id", "request_id");
CREATE UNIQUE INDEX "usages_transaction_id_key" ON "usages"("transaction_id");
CREATE INDEX "usages_created_at_idx" ON "usages"("created_at");
ALTER TABLE "usages" ADD CONSTRAINT "usages_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "usages" ADD CONSTRAINT "usages_rate_card_id_fkey" FOREIGN KEY ("rate_card_id") REFERENCES "rate_cards"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "usages" ADD CONSTRAINT "usages_transaction_id_fkey" FOREIGN KEY ("transaction_id") REFERENCES "ledger_transactions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

CREATE TABLE "holds" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "account_id" BIGINT NOT NULL,
    "user_id" TEXT NOT NULL,
    "request_id" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "rate_card_id" BIGINT NOT NULL,
    "max_input_tokens" BIGINT NOT NULL,
    "max_output_tokens" BIGINT NOT NULL,
    "amount" DECIMAL(38,18) NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'active',
    "payload_hash" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ended_at" TIMESTAMPTZ(6),
    "expiry_noted_at" TIMESTAMPTZ(6),
    "usage_id" UUID,
    "correlation_id" TEXT,
    CONSTRAINT "holds_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "holds_status_check" CHECK ("status" IN ('active', 'settled', 'released')),
    CONSTRAINT "holds_amount_check" CHECK ("amount" >= 0),
    CONSTRAINT "holds_ended_check" CHECK (("status" = 'active') = ("ended_at" IS NULL))
);
CREATE UNIQUE INDEX "holds_user_id_request_id_key" ON "holds"("user_id", "request_id");
-- only active holds are ever summed; expiry is read from expires_at, no job needed
CREATE INDEX "holds_account_id_expires_at_idx" ON "holds"("account_id", "expires_at") WHERE "status" = 'active';
ALTER TABLE "holds" ADD CONSTRAINT "holds_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "holds" ADD CONSTRAINT "holds_rate_card_id_fkey" FOREIGN KEY ("rate_card_id") REFERENCES "rate_cards"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

CREATE TABLE "idempotency_keys" (
    "caller" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "method" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'in_progress',
    "status_code" INTEGER,
    "response_body" JSONB,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(6),
    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("caller", "key"),
    CONSTRAINT "idempotency_keys_state_check" CHECK ("state" IN ('in_progress', 'completed'))
);
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"("created_at");

-- System accounts. Their balances are the negated sum of their postings' counterparts,
-- derived from postings, never a row every charge would lock.
INSERT INTO "accounts" ("kind", "code") VALUES
  ('system', 'stripe_clearing'),
  ('system', 'bonus_expense'),
  ('system', 'usage_revenue'),
  ('system', 'promotions'),
  ('system', 'refunds'),
  ('system', 'disputes');

-- The first rate cards (USD per 1M tokens), in force from the epoch; markup 4.
INSERT INTO "rate_cards" ("model", "input_usd_per_1m", "cached_input_usd_per_1m", "output_usd_per_1m", "markup", "effective_from") VALUES
  ('gpt-4o',        5.00,  2.50,  15.00, 4, '1970-01-01T00:00:00Z'),
  ('gpt-4o-mini',   0.15,  0.075, 0.60,  4, '1970-01-01T00:00:00Z'),
  ('gpt-4.1',       2.00,  0.50,  8.00,  4, '1970-01-01T00:00:00Z'),
  ('gpt-4.1-mini',  0.40,  0.10,  1.60,  4, '1970-01-01T00:00:00Z'),
  ('gpt-4.1-nano',  0.10,  0.025, 0.40,  4, '1970-01-01T00:00:00Z'),
  ('o1',            15.00, 7.50,  60.00, 4, '1970-01-01T00:00:00Z'),
  ('o3-mini',       1.10,  0.55,  4.40,  4, '1970-01-01T00:00:00Z'),
  ('gpt-4-turbo',   10.00, NULL,  30.00, 4, '1970-01-01T00:00:00Z'),
  ('gpt-3.5-turbo', 0.50,  NULL,  1.50,  4, '1970-01-01T00:00:00Z');
