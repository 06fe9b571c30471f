-- Ledger closings: the books closed per UTC day, so the scheduled check reads only what came after
-- the last closing. A period belongs to a ledger transaction by its created_at; a closing holds, for
-- every account with postings up to its end, the sum of those postings. Append-only like the ledger.

-- One row per closed period: written in the same transaction as its balances, so a period is either
-- closed completely or not at all. The primary key makes a second closing of the same day a no-op.
CREATE TABLE "ledger_closing_periods" (
    "period_end" TIMESTAMPTZ(6) NOT NULL,
    "period_start" TIMESTAMPTZ(6) NOT NULL,
    "transactions" BIGINT NOT NULL,
    "closed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ledger_closing_periods_pkey" PRIMARY KEY ("period_end"),
    CONSTRAINT "ledger_closing_periods_order_check" CHECK ("period_start" < "period_end"),
    -- every period ends at a UTC midnight
    CONSTRAINT "ledger_closing_periods_day_check" CHECK ("period_end" = date_trunc('day', "period_end" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
);

-- An account's balance at a period's end: the sum of its postings in transactions created before
-- period_end. Written only for accounts with postings in the period; an account's balance at any
-- closing is its newest row at or before that closing (0 without one).
CREATE TABLE "ledger_closing_balances" (
    "account_id" BIGINT NOT NULL,
    "period_end" TIMESTAMPTZ(6) NOT NULL,
    "balance" DECIMAL(38,18) NOT NULL,
    CONSTRAINT "ledger_closing_balances_pkey" PRIMARY KEY ("account_id", "period_end")
);
ALTER TABLE "ledger_closing_balances" ADD CONSTRAINT "ledger_closing_balances_period_end_fkey" FOREIGN KEY ("period_end") REFERENCES "ledger_closing_periods"("period_end") ON DELETE RESTRICT;
ALTER TABLE "ledger_closing_balances" ADD CONSTRAINT "ledger_closing_balances_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT;

-- Wallet postings per ledger type from the first posting to a period's end (the wallets-total
-- equation's terms), one row per type with any wallet posting by then.
CREATE TABLE "ledger_closing_wallet_totals" (
    "period_end" TIMESTAMPTZ(6) NOT NULL,
    "type" TEXT NOT NULL,
    "amount" DECIMAL(38,18) NOT NULL,
    CONSTRAINT "ledger_closing_wallet_totals_pkey" PRIMARY KEY ("period_end", "type")
);
ALTER TABLE "ledger_closing_wallet_totals" ADD CONSTRAINT "ledger_closing_wallet_totals_period_end_fkey" FOREIGN KEY ("period_end") REFERENCES "ledger_closing_periods"("period_end") ON DELETE RESTRICT;

CREATE TRIGGER "ledger_closing_periods_append_only" BEFORE UPDATE OR DELETE ON "ledger_closing_periods" FOR EACH ROW EXECUTE FUNCTION "billing_reject_change"();
CREATE TRIGGER "ledger_closing_balances_append_only" BEFORE UPDATE OR DELETE ON "ledger_closing_balances" FOR EACH ROW EXECUTE FUNCTION "billing_reject_change"();
CREATE TRIGGER "ledger_closing_wallet_totals_append_only" BEFORE UPDATE OR DELETE ON "ledger_closing_wallet_totals" FOR EACH ROW EXECUTE FUNCTION "billing_reject_change"();
-- TRUNCATE skips row triggers; refuse it the same way.
CREATE TRIGGER "ledger_closing_periods_no_truncate" BEFORE TRUNCATE ON "ledger_closing_periods" FOR EACH STATEMENT EXECUTE FUNCTION "billing_reject_change"();
CREATE TRIGGER "ledger_closing_balances_no_truncate" BEFORE TRUNCATE ON "ledger_closing_balances" FOR EACH STATEMENT EXECUTE FUNCTION "billing_reject_change"();
CREATE TRIGGER "ledger_closing_wallet_totals_no_truncate" BEFORE TRUNCATE ON "ledger_closing_wallet_totals" FOR EACH STATEMENT EXECUTE FUNCTION "billing_reject_change"();
