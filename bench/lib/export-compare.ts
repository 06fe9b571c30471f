import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface ExportRun {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  bytes: number;
}

/** Data rows (lines minus the header) of a CSV stream; the export's cells hold no line breaks. */
async function countRows(stream: AsyncIterable<Uint8Array>, started: bigint): Promise<ExportRun> {
  let lines = 0;
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rows = Math.max(0, lines - 1);
  return { rows, seconds, rowsPerSecond: rows / seconds, bytes };
}

export async function httpExport(url: string, token: string): Promise<ExportRun> {
  const started = process.hrtime.bigint();
  const res = await fetch(`${url}/v1/ledger/export.csv`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200 || !res.body) throw new Error(`export answered ${res.status}`);
  return countRows(res.body as unknown as AsyncIterable<Uint8Array>, started);
}

/** psql's \copy of the same SELECT: what PostgreSQL and libpq alone can deliver. */
export async function psqlExport(databaseUrl: string, select: string): Promise<ExportRun> {
  const started = process.hrtime.bigint();
  // \copy is a one-line meta-command
  const command = `\\copy (${select.replace(/\s+/g, ' ')}) TO STDOUT WITH (FORMAT csv, HEADER true)`;
  const p = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', databaseUrl, '-c', command], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
  const run = await countRows(p.stdout as Readable, started);
  if ((await exited) !== 0) throw new Error('psql \\copy failed');
  return run;
}
