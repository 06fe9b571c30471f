-- The ledger is append-only: triggers on postings, ledger_transactions and rate_cards call this
-- before any UPDATE or DELETE (a new price is a new rate card).
CREATE OR REPLACE FUNCTION "billing_reject_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = '42501';
END $$;
