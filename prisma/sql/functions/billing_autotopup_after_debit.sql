-- The deferred trigger accounts_autotopup_after_debit (migration 20261207000000_auto_topup): at the
-- end of a transaction that lowered a wallet's balance, or changed its auto top-up threshold, while
-- auto top-up is active. The wallet row is still locked by that transaction.
CREATE OR REPLACE FUNCTION "billing_autotopup_after_debit"()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "billing_autotopup_check"(NEW."user_id");
  RETURN NULL;
END $$;
