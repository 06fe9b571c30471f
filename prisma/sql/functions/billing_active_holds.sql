-- Credits reserved by unexpired active holds; an expired hold stops counting without any job.
-- plpgsql, not LANGUAGE sql: PostgreSQL cannot inline a SQL function with a FROM clause and keeps no
-- plan for it beyond the calling statement, so every call would parse and plan the SELECT again;
-- a plpgsql function's plan is cached per session.
-- billing_charge_usage and billing_charge_usage_batch write this sum inline (see their files).
CREATE OR REPLACE FUNCTION "billing_active_holds"(p_account_id BIGINT, p_except UUID)
RETURNS NUMERIC LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT COALESCE(SUM(h."amount"), 0) FROM "holds" h
          WHERE h."account_id" = p_account_id AND h."status" = 'active' AND h."expires_at" > now()
            AND h."id" IS DISTINCT FROM p_except);
END $$;
