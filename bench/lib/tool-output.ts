import { spawn } from 'node:child_process';

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  /** non-2xx answers plus requests lost to socket errors, timeouts and failed connects */
  errors: number;
  statuses: Record<string, number>;
  /** paced runs: requests written; each one is either answered (counted in `requests`) or in `errorKinds` */
  sent?: number;
  /** paced runs: requests due before the deadline that never found a free connection, so were not sent */
  unsent?: number;
  errorKinds?: Record<string, number>;
}

export const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** What wrk's scripts (bench/wrk/*.lua) print on their result line. */
export interface ToolCounts {
  durationUs: number;
  p50: number;
  p95: number;
  p99: number;
  /** answers by HTTP status */
  statuses: Record<string, number>;
  /** requests lost, by kind (connect, read, timeout, …) */
  errors: Record<string, number>;
}

/**
 * Runs a load tool to its end and returns the JSON of its `<tag>JSON {...}` line; anything else it
 * printed comes back in the error when it fails. `missing` tells how to install it.
 */
export async function runTool<T extends ToolCounts>(
  tag: string,
  command: string,
  args: string[],
  o: { env?: NodeJS.ProcessEnv; missing: string },
): Promise<T> {
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn(command, args, { env: o.env ?? process.env });
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.stderr.on('data', (d) => (text += d));
    p.once('error', (e) => reject(new Error(`${tag} could not start (${e.message}): ${o.missing}`)));
    p.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`${tag} exited ${code}:\n${text}`))));
  });
  const line = new RegExp(`^${tag.toUpperCase()}JSON (.*)$`, 'm').exec(out);
  if (!line) throw new Error(`no result line in ${tag}'s output:\n${out}`);
  return JSON.parse(line[1]) as T;
}

/** The LoadResult of a tool's counts: every answer is a request; non-2xx answers and lost requests are errors. */
export function loadResultOf(r: ToolCounts): LoadResult {
  const answered = Object.values(r.statuses).reduce((n, k) => n + k, 0);
  const non2xx = Object.entries(r.statuses).reduce((n, [s, k]) => (s.startsWith('2') ? n : n + k), 0);
  const errorKinds = Object.fromEntries(Object.entries(r.errors).filter(([, n]) => n > 0));
  const failures = Object.values(errorKinds).reduce((n, k) => n + k, 0);
  return {
    requests: answered,
    rps: answered / (r.durationUs / 1e6),
    p50: r.p50,
    p95: r.p95,
    p99: r.p99,
    errors: non2xx + failures,
    statuses: r.statuses,
    errorKinds,
  };
}
