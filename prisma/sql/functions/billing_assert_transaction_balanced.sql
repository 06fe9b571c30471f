-- Double entry, checked at commit: the postings of every transaction sum to zero.
-- Run by the deferred constraint trigger postings_balanced (prisma/migrations/20261128000000_ledger_core).
CREATE OR REPLACE FUNCTION "billing_assert_transaction_balanced"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total NUMERIC;
BEGIN
  SELECT COALESCE(SUM("amount"), 0) INTO total FROM "postings" WHERE "transaction_id" = NEW."transaction_id";
  IF total <> 0 THEN
    RAISE EXCEPTION 'ledger transaction % does not balance (sum %)', NEW."transaction_id", total USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $$;
