import type pg from 'pg';
import { countUsages } from './bench-db';
import type { LoadResult } from './tool-output';

/** What a scenario checks after its load, so a fast wrong answer fails the run. */
type Violation = (scenario: string, message: string) => void;

/**
 * This process's generator waits for every answer, so with no errors each 201 must be exactly one
 * row. A request lost to a socket error or timeout (already a violation) may still have committed,
 * and so may the last request of each of wrk's connections, which it stops without waiting for.
 */
export function exactlyAnswered(
  violation: Violation,
  scenario: string,
  r: LoadResult & { unanswered?: number },
  answered: number,
  recorded: number,
  what: string,
) {
  const lost = Object.values(r.errorKinds ?? {}).reduce((n, k) => n + k, 0) + (r.unanswered ?? 0);
  if (recorded < answered || recorded > answered + lost) {
    const unanswered = lost ? ` (${lost} requests without an answer)` : '';
    violation(scenario, `${answered} answered 201 but ${recorded} ${what} were recorded${unanswered}`);
  }
}

export function expectOnly(violation: Violation, scenario: string, r: LoadResult, status: string) {
  const other = Object.entries(r.statuses).filter(([s]) => s !== status);
  if (other.length > 0 || r.errors > 0) {
    violation(
      scenario,
      `expected only ${status}, got ${JSON.stringify(r.statuses)} and ${r.errors} errors ` +
        `${JSON.stringify(r.errorKinds ?? {})}`,
    );
  }
}

/**
 * wrk leaves requests in flight at its deadline; they commit a moment later. Counting only once the
 * count holds still keeps them out of the next scenario's window (replays must record nothing).
 */
export async function settledUsageCount(pool: pg.Pool): Promise<number> {
  let last = await countUsages(pool);
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await countUsages(pool);
    if (now === last) return now;
    last = now;
  }
  return last;
}

/**
 * The count check allows wrk's unanswered requests, which could hide a 201 that charged nothing
 * behind one of them that committed: so every answered requestId must be exactly one usage.
 */
export async function eachAnsweredCharged(pool: pg.Pool, violation: Violation, scenario: string, ids: string[]) {
  const { rows } = await pool.query<{ charged: string; usages: string }>(
    `SELECT count(DISTINCT a.id) AS charged, count(u.id) AS usages FROM unnest($1::text[]) a(id) JOIN usages u
     ON u.request_id = a.id`,
    [ids],
  );
  const charged = Number(rows[0].charged);
  const usages = Number(rows[0].usages);
  if (new Set(ids).size !== ids.length || charged !== ids.length || usages !== ids.length) {
    violation(
      scenario,
      `${ids.length} requestIds answered 201 (${new Set(ids).size} distinct): ${charged} have a usage, ` +
        `${usages} usages in all`,
    );
  }
}
