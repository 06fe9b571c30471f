import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LoadResult } from './http-load';
import { ROOT } from './server-process';

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

interface PacerJson {
  requests: number;
  sent: number;
  unsent: number;
  durationUs: number;
  p50: number;
  p95: number;
  p99: number;
  statuses: Record<string, number>;
  errors: Record<'connect' | 'read' | 'bad' | 'timeout', number>;
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
      throw new Error(`could not compile bench/pacer/pacer.c (${(error as Error).message}): install a C compiler (apt-get install gcc)`);
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
  const args = [url.hostname, url.port, String(o.connections), String(o.seconds), String(o.rate), o.token, o.requestIdPrefix, String(o.wallets)];
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn(pacerBinary(), args);
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.stderr.on('data', (d) => (text += d));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`pacer exited ${code}:\n${text}`))));
  });
  const line = /^PACERJSON (.*)$/m.exec(out);
  if (!line) throw new Error(`no result line in the pacer's output:\n${out}`);
  const r = JSON.parse(line[1]) as PacerJson;
  const non2xx = Object.entries(r.statuses).reduce((n, [s, k]) => (s.startsWith('2') ? n : n + k), 0);
  const errorKinds = Object.fromEntries(Object.entries(r.errors).filter(([, n]) => n > 0));
  const failures = Object.values(errorKinds).reduce((n, k) => n + k, 0);
  return {
    requests: r.requests,
    rps: r.requests / (r.durationUs / 1e6),
    p50: r.p50,
    p95: r.p95,
    p99: r.p99,
    errors: non2xx + failures,
    statuses: r.statuses,
    sent: r.sent,
    unsent: r.unsent,
    errorKinds,
  };
}
