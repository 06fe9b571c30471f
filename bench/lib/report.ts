import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LoadResult } from './tool-output';
import { ROOT } from './server-process';

/** One table row: a service scenario (a load result) or a pgbench floor, in the same figures. */
export interface ScenarioRow extends Pick<LoadResult, 'requests' | 'rps' | 'p50' | 'p95' | 'p99' | 'errors'> {
  scenario: string;
  peakRssMb: number;
  serverCpuMsPerRequest?: number;
  loadGenCpuMsPerRequest?: number;
  /** the whole machine's busy CPU per request (server, PostgreSQL, load generator or pgbench) */
  machineCpuMsPerRequest?: number;
  /** which floor this row is divided by, and the ratios */
  floor?: string;
  rpsVsFloor?: number;
  p99VsFloor?: number;
  note?: string;
}

export interface TargetCheck {
  target: string;
  goal: string;
  measured: string;
  met: boolean;
}

const f = (n: number | undefined, digits = 1) => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits));

export function markdownTable(rows: ScenarioRow[]): string {
  const head =
    '| scenario | req/s | p50 ms | p95 ms | p99 ms | errors | peak RSS MB | server CPU ms/req | load-gen CPU ms/req ' +
    '| machine CPU ms/req | vs floor | req/s ÷ floor | p99 ÷ floor |';
  const lines = rows.map(
    (r) =>
      `| ${r.scenario} | ${f(r.rps, 0)} | ${f(r.p50, 2)} | ${f(r.p95, 2)} | ${f(r.p99, 2)} | ${r.errors} ` +
      `| ${f(r.peakRssMb, 0)} | ${f(r.serverCpuMsPerRequest, 2)} | ${f(r.loadGenCpuMsPerRequest, 2)} ` +
      `| ${f(r.machineCpuMsPerRequest, 2)} | ${r.floor ?? '–'} | ${f(r.rpsVsFloor, 2)} | ${f(r.p99VsFloor, 2)} |`,
  );
  return [head, '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|', ...lines].join('\n');
}

export function targetsTable(checks: TargetCheck[]): string {
  return [
    '| target | goal | measured | met |',
    '|---|---|---|---|',
    ...checks.map((c) => `| ${c.target} | ${c.goal} | ${c.measured} | ${c.met ? 'yes' : '**no**'} |`),
  ].join('\n');
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim(),
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}

export function writeResults(stamp: string, data: unknown): string {
  const file = path.join(ROOT, 'bench', 'results', `${stamp}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}
