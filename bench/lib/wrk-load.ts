import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './server-process';
import { loadResultOf, runTool, type LoadResult, type ToolCounts } from './tool-output';

const CLOSED = path.join(ROOT, 'bench', 'wrk', 'requests.lua');
const PACED = path.join(ROOT, 'bench', 'wrk', 'paced.lua');
const MISSING = 'install it with apt-get install wrk';

export interface WrkOptions {
  url: string;
  connections: number;
  /** whole seconds: wrk takes no shorter unit */
  seconds: number;
  /** requests.lua's mode and its arguments, e.g. ['charge', token, prefix, '10000', '0'] */
  args: string[];
  /** also return the requestId of every 201 answer (read from its body) */
  answeredIds?: boolean;
}

export interface WrkResult extends LoadResult {
  /** wrk stops at the deadline without waiting: up to one request per connection may have been sent
   * and even committed without its answer being counted */
  unanswered: number;
  answeredIds?: string[];
  /** holds mode: settles answered 201 */
  settled?: number;
  /** webhook mode: distinct events (lines of the file) sent */
  distinctSent?: number;
}

/**
 * Closed-loop load: each connection sends its next request when the previous answer arrives. wrk is C
 * like the floor's client, pgbench: on two cores every millisecond the load generator spends is one the
 * server cannot. Two threads, like pgbench -j 2. Its percentiles are not raw: wrk 4.1 adds synthetic
 * samples for every answer slower than twice the mean interval (its coordinated-omission correction),
 * so p95/p99 of its rows are upper bounds; the p99 target is measured by runWrkPaced.
 */
export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  // wrk gives each thread connections / threads sockets, rounded down: an odd count runs on one thread
  const threads = o.connections % 2 === 0 ? 2 : 1;
  const seconds = `${Math.max(1, Math.round(o.seconds))}s`;
  const args = ['-t', String(threads), '-c', String(o.connections), '-d', seconds, '--timeout', '30s'];
  const dir = o.answeredIds ? fs.mkdtempSync(path.join(os.tmpdir(), 'bench-wrk-ids-')) : undefined;
  const idsFile = dir && path.join(dir, 'ids.txt');
  try {
    const env = { ...process.env, WRK_THREADS: String(threads), ...(idsFile ? { WRK_IDS_FILE: idsFile } : {}) };
    const r = await runTool<ToolCounts & { settled?: number; distinctSent?: number }>(
      'wrk',
      'wrk',
      [...args, '-s', CLOSED, o.url, '--', ...o.args],
      { env, missing: MISSING },
    );
    return {
      ...loadResultOf(r),
      unanswered: o.connections,
      settled: r.settled,
      distinctSent: r.distinctSent,
      answeredIds: idsFile ? fs.readFileSync(idsFile, 'utf8').split('\n').filter(Boolean) : undefined,
    };
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface PacedOptions {
  url: string;
  connections: number;
  /** may be fractional */
  seconds: number;
  /** charges per second, evenly spaced */
  rate: number;
  token: string;
  /** every requestId is this prefix and the charge's number (from 0) */
  requestIdPrefix: string;
  /** each charge goes to bench-1 … bench-<wallets>, at random */
  wallets: number;
  /** how long answers may take after the deadline before they count as unanswered (whole seconds) */
  graceSeconds?: number;
}

/**
 * Open-loop charges at a fixed rate through bench/wrk/paced.lua, one wrk thread (one queue for all the
 * connections): latency runs from each charge's due time, so a server that falls behind shows in the
 * percentiles (no coordinated omission). Sends nothing after `seconds`, then waits for the answers in
 * flight, so the 201s can be compared exactly with the usages recorded.
 */
export async function runWrkPaced(o: PacedOptions): Promise<LoadResult> {
  const duration = Math.ceil(o.seconds) + (o.graceSeconds ?? 2);
  const args = ['-t', '1', '-c', String(o.connections), '-d', `${duration}s`, '--timeout', `${duration}s`];
  const script = [o.token, o.requestIdPrefix, String(o.wallets), String(o.rate), String(o.seconds)];
  const r = await runTool<ToolCounts & { sent: number; unsent: number }>(
    'wrk',
    'wrk',
    [...args, '-s', PACED, o.url, '--', ...script],
    { missing: MISSING },
  );
  return { ...loadResultOf(r), sent: r.sent, unsent: r.unsent };
}
