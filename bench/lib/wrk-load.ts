import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LoadResult } from './http-load';
import { ROOT } from './server-process';
import { loadResultOf, runTool, type ToolCounts } from './tool-output';

const SCRIPT = path.join(ROOT, 'bench', 'wrk', 'requests.lua');

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
}

/**
 * Closed-loop load from wrk (C, from Debian): the floor's client, pgbench, is C too, and on two cores
 * every millisecond the load generator spends is one the server cannot. Two threads, like pgbench -j 2.
 * Its percentiles are not raw: wrk 4.1 adds synthetic samples for every answer slower than twice the
 * mean interval (its coordinated-omission correction), so p95/p99 of its rows are upper bounds; the
 * p99 target is measured by the paced run of bench/lib/pacer-load.ts instead.
 */
export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  // wrk gives each thread connections / threads sockets, rounded down: an odd count runs on one thread
  const threads = o.connections % 2 === 0 ? 2 : 1;
  const args = [
    '-t',
    String(threads),
    '-c',
    String(o.connections),
    '-d',
    `${Math.max(1, Math.round(o.seconds))}s`,
    '--timeout',
    '30s',
    '-s',
    SCRIPT,
    o.url,
    '--',
    ...o.args,
  ];
  const dir = o.answeredIds ? fs.mkdtempSync(path.join(os.tmpdir(), 'bench-wrk-ids-')) : undefined;
  const idsFile = dir && path.join(dir, 'ids.txt');
  try {
    const env = { ...process.env, ...(idsFile ? { WRK_IDS_FILE: idsFile } : {}) };
    const r = await runTool<ToolCounts>('wrk', 'wrk', args, { env, missing: 'install it with apt-get install wrk' });
    return {
      ...loadResultOf(r),
      unanswered: o.connections,
      answeredIds: idsFile ? fs.readFileSync(idsFile, 'utf8').split('\n').filter(Boolean) : undefined,
    };
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}
