/**
 * A lower bound on the ids of the postings of every transaction created at or after a time, so
 * that reading them scans the postings' primary key from there instead of the whole table (they
 * have no time index: one more index would cost every charge).
 *
 * Ids come from a sequence when a row is inserted. A transaction created (started) at or after t
 * inserts its postings after t, so their ids exceed every id handed out before t — among them
 * the postings of a transaction created before t − 1 hour, which (the ledger's transactions last
 * milliseconds) had committed long before t. The newest such transaction's largest posting id is
 * therefore a floor: it costs two index probes. A posting that still slipped under it would be
 * missing from "postings since" while its wallet's cached balance has it, and fail the check.
 */
export const POSTINGS_FLOOR_SQL = `
  SELECT COALESCE(max(po.id), 0)::text AS floor FROM postings po
  WHERE po.transaction_id = (SELECT t.id FROM ledger_transactions t
                             WHERE t.created_at < $1::timestamptz - interval '1 hour' ORDER BY t.created_at DESC
                               LIMIT 1)`;

/**
 * The other side, for a closed period: every transaction created before t had inserted its
 * postings before t + 1 hour, so the smallest posting id of the oldest transaction created after
 * that is above all of them (exclusive). None yet: no bound.
 */
export const POSTINGS_CEILING_SQL = `
  SELECT COALESCE(min(po.id), 9223372036854775807)::text AS ceiling FROM postings po
  WHERE po.transaction_id = (SELECT t.id FROM ledger_transactions t
                             WHERE t.created_at >= $1::timestamptz + interval '1 hour' ORDER BY t.created_at LIMIT 1)`;
