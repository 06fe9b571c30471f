-- The ledger business key of a usage charge: one per (user_id, request_id), so a call posts once.
-- The user id's length comes first, so a user id holding ':' cannot make two pairs share a key.
-- The same protocol in TypeScript: src/modules/ledger/business-keys.ts (a test holds them equal).
-- ::text, not text || integer: that operator is only STABLE, and PostgreSQL inlines an IMMUTABLE SQL
-- function only when its body is immutable too; not inlined, every call would plan the body again.
CREATE OR REPLACE FUNCTION "billing_usage_business_key"(p_user_id TEXT, p_request_id TEXT)
RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
  SELECT 'usage:' || length(p_user_id)::text || ':' || p_user_id || ':' || p_request_id
$$;
