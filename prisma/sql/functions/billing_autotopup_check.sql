-- Auto top-up's trigger (docs/auto-topup.md): starts one attempt when the user's available credits
-- are below the auto top-up threshold. Called with the wallet row locked, in the debit's own
-- transaction: by the deferred trigger on accounts (charges, settles, take-backs, enabling) and by
-- billing_place_hold. Every writer of the auto top-up settings locks the wallet first, so nothing
-- here can change under it.
--   1. Nothing while auto top-up is not active (the wallet's copy of the threshold is NULL) or
--      available is at or above the threshold.
--   2. Nothing while an attempt is in flight (pending, processing, requires_action); the partial
--      unique index topups_one_in_flight_key makes that hold even for a writer that skips this check.
--   3. The monthly limit (calendar month, UTC): an attempt that would take this month's spend (the
--      month's attempts that did not fail) over the limit is not made; topup.limit_reached is written
--      once per month.
--   4. Otherwise one pending attempt, with the package, price and card as they are now; the worker
--      sends it to Stripe.
-- It never raises: it runs at the commit of a charge, which must not fail because of a top-up.
CREATE OR REPLACE FUNCTION "billing_autotopup_check"(p_user_id TEXT)
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
  v_account_id BIGINT;
  v_threshold NUMERIC;
  v_available NUMERIC;
  v_settings "billing_settings"%ROWTYPE;
  v_month DATE := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
  v_spent BIGINT;
BEGIN
  SELECT a."id", a."auto_topup_threshold", a."balance" - "billing_active_holds"(a."id", NULL)
  INTO v_account_id, v_threshold, v_available
  FROM "accounts" a WHERE a."user_id" = p_user_id;
  IF v_threshold IS NULL OR v_available >= v_threshold THEN RETURN; END IF;
  IF EXISTS (SELECT 1 FROM "topups" t WHERE t."user_id" = p_user_id
             AND t."status" IN ('pending', 'processing', 'requires_action')) THEN
    RETURN;
  END IF;
  SELECT * INTO v_settings FROM "billing_settings" s WHERE s."user_id" = p_user_id AND s."auto_topup_status" = 'active';
  IF NOT FOUND THEN RETURN; END IF;

  SELECT COALESCE(SUM(t."price_cents"), 0) INTO v_spent FROM "topups" t
  WHERE t."user_id" = p_user_id AND t."status" <> 'failed' AND t."created_at" >= v_month::timestamp AT TIME ZONE 'UTC';
  IF v_spent + v_settings."auto_topup_price_cents" > v_settings."auto_topup_monthly_limit_cents" THEN
    IF v_settings."auto_topup_limit_notice_month" IS DISTINCT FROM v_month THEN
      UPDATE "billing_settings" s SET "auto_topup_limit_notice_month" = v_month WHERE s."user_id" = p_user_id;
      INSERT INTO "events" ("type", "user_id", "data")
      VALUES ('topup.limit_reached', p_user_id, jsonb_build_object(
        'monthlyLimitUsd', to_char(v_settings."auto_topup_monthly_limit_cents" / 100.0, 'FM999999990.00'),
        'spentThisMonthUsd', to_char(v_spent / 100.0, 'FM999999990.00')));
    END IF;
    RETURN;
  END IF;

  INSERT INTO "topups" ("user_id", "package_id", "price_cents", "credits", "bonus_credits", "customer_id",
    "payment_method_id")
  VALUES (p_user_id, v_settings."auto_topup_package_id", v_settings."auto_topup_price_cents",
    v_settings."auto_topup_credits", v_settings."auto_topup_bonus_credits", v_settings."stripe_customer_id",
    v_settings."payment_method_id")
  ON CONFLICT ("user_id") WHERE "status" IN ('pending', 'processing', 'requires_action') DO NOTHING;
END $$;
