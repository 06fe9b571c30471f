import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { percentile } from './tool-output';
import { ROOT } from './server-process';

export const FLOOR_SCRIPT = path.join(ROOT, 'bench', 'floor-charge.sql');

export interface FloorResult {
  transactions: number;
  tps: number;
  p50: number;
  p95: number;
  p99: number;
  /** paced only: p99 counted from each scheduled start, lag included (as the HTTP generator counts) */
  p99WithLag?: number;
  errors: number;
}

export interface FloorOptions {
  databaseUrl: string;
  clients: number;
  seconds: number;
  /** 1 puts every transaction on wallet bench-1: the hot-row floor */
  wallets: number;
  rateCardId: string;
  revenueAccountId: string;
  /** transactions per second, paced by pgbench (-R); latencies then count from each scheduled start */
  rate?: number;
}

/** pgbench with the floor script, prepared statements, per-transaction log for the percentiles. */
export async function runFloor(o: FloorOptions): Promise<FloorResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-floor-'));
  const args = [
    '-n',
    '-M',
    'prepared',
    '-c',
    String(o.clients),
    '-j',
    String(Math.min(2, o.clients)),
    '-T',
    String(o.seconds),
    '-f',
    FLOOR_SCRIPT,
    '-D',
    `wallets=${o.wallets}`,
    '-D',
    `card=${o.rateCardId}`,
    '-D',
    `revenue=${o.revenueAccountId}`,
    ...(o.rate ? ['-R', String(o.rate)] : []),
    '-l',
    `--log-prefix=${path.join(dir, 'floor')}`,
    o.databaseUrl,
  ];
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn('pgbench', args, { cwd: dir });
      let text = '';
      p.stdout.on('data', (d) => (text += d));
      p.stderr.on('data', (d) => (text += d));
      p.once('error', reject);
      p.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`pgbench exited ${code}:\n${text}`))));
    });
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1]);
    const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
    // log line: client_id transaction_no time(us) script_no epoch epoch_us [lag(us)]; time is "failed"
    // on error. With -R, time runs from the scheduled start and lag is how long the transaction waited
    // for its own client's previous one: pgbench schedules per client, so a slow commit delays that
    // client's queue while others idle. The load generator shares one queue among its sockets and has
    // no such wait, so the paced floor's latency is taken without lag: PostgreSQL's own time per charge.
    const latencies: number[] = [];
    const withLag: number[] = [];
    let errors = failed;
    for (const file of fs.readdirSync(dir)) {
      for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) {
        const fields = line.split(' ');
        const time = fields[2];
        if (time === undefined) continue;
        const us = Number(time) - (o.rate ? Number(fields[6] ?? 0) : 0);
        if (Number.isFinite(us)) {
          latencies.push(us / 1000);
          if (o.rate) withLag.push(Number(time) / 1000);
        } else errors += failed ? 0 : 1;
      }
    }
    latencies.sort((a, b) => a - b);
    withLag.sort((a, b) => a - b);
    if (!Number.isFinite(tps)) throw new Error(`could not read pgbench output:\n${out}`);
    const p99WithLag = o.rate ? percentile(withLag, 99) : undefined;
    return {
      transactions: latencies.length,
      tps,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      p99WithLag,
      errors,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
