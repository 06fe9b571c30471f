-- CSV cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP CSV injection).
CREATE OR REPLACE FUNCTION "billing_csv_text"(v TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN v ~ E'^[=+\\-@\\t\\r]' THEN '''' || v ELSE v END
$$;
