import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LoadResult } from './http-load';
import { ROOT } from './server-process';
import { loadResultOf, runTool, type ToolCounts } from './tool-output';

const SOURCE = path.join(ROOT, 'bench', 'pacer', 'pacer.c');

export interface PacerOptions {
  url: string;
  connections: number;
  seconds: number;
  /** charges per second, evenly spaced */
  rate: number;
  token: string;
  /** every requestId is this prefix and the request's sequence number */
  requestIdPrefix: string;
  /** each charge goes to bench-1 … bench-<wallets>, at random */
  wallets: number;
}

interface PacerJson extends ToolCounts {
  sent: number;
  unsent: number;
}

/**
 * Compiled once per source version into the temp directory (the C compiler is on every machine of this
 * kind, like the Debian tools the bench needs): a checkout carries no binary.
 */
export function pacerBinary(): string {
  const source = fs.readFileSync(SOURCE);
  const hash = crypto.createHash('sha256').update(source).digest('hex').slice(0, 12);
  const binary = path.join(os.tmpdir(), `scholarlink-bench-pacer-${hash}`);
  if (!fs.existsSync(binary)) {
    const partial = `${binary}.${process.pid}`;
    try {
      execFileSync('cc', ['-O2', '-Wall', '-o', partial, SOURCE], { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch (error) {
      throw new Error(
        `could not compile bench/pacer/pacer.c (${(error as Error).message}): ` +
          'install a C compiler (apt-get install gcc)',
        {
          cause: error,
        },
      );
    }
    fs.renameSync(partial, binary); // whole or absent, even with two benches compiling at once
  }
  return binary;
}

/**
 * Charges at a fixed rate through bench/pacer/pacer.c (open loop, latency from each request's due time),
 * for the half-peak scenario: it costs the shared cores ~0.08 ms per request where this process's own
 * generator costs ~0.3 (see the pacer's header). Waits for every answer in flight (up to 10 s) like
 * runLoad, so the 201s can be compared exactly with the usages recorded.
 */
export async function runPacer(o: PacerOptions): Promise<LoadResult> {
  const url = new URL(o.url);
  const args = [
    url.hostname,
    url.port,
    String(o.connections),
    String(o.seconds),
    String(o.rate),
    o.token,
    o.requestIdPrefix,
    String(o.wallets),
  ];
  const r = await runTool<PacerJson>('pacer', pacerBinary(), args, { missing: 'see bench/lib/pacer-load.ts' });
  return { ...loadResultOf(r), sent: r.sent, unsent: r.unsent };
}
