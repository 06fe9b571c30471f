import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/build';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { startServer, type ServerProcess } from '../helpers/server-process';

// The README's tour, run as printed: the `export` lines the server prints, then the bash block in
// order against a fresh database. Only the address changes (a free port instead of 3000).
let database: TestDatabase;
let server: ServerProcess;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-tour-'));

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServer({ DATABASE_URL: database.url, BILLING_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await database.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function tourBlock(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const tour = readme.slice(readme.indexOf('## A short tour'));
  const block = /```bash\n([\s\S]*?)```/.exec(tour);
  if (!block) throw new Error('README.md: no bash block under "A short tour"');
  return block[1];
}

describe("the README's short tour", () => {
  it('runs as printed, in order, and answers what its comments say', () => {
    const exports = server
      .output()
      .split('\n')
      .filter((l) => /^\s*export [A-Z_]+=/.test(l))
      .map((l) => l.trim());
    expect(exports).toHaveLength(3);
    const port = new URL(server.baseUrl).port;
    const script = ['set -euo pipefail', ...exports, tourBlock().replaceAll('localhost:3000', `127.0.0.1:${port}`)];
    const out = execFileSync('bash', ['-c', script.join('\n')], { cwd: dataDir, encoding: 'utf8' });
    expect(out).toContain('"credits":"50","balance":"4950"');
    expect(out).toMatch(/HTTP\/1\.1 200 OK\r?\nidempotent-replayed: true/i);
    expect(out).toContain('"heldCredits":"100"');
    expect(out).toContain('"availableCredits":"4850"');
    expect(out).toContain('"credits":"45","balance":"4905"');
    expect(out).toMatch(/"balance":"4905","held":"0","available":"4905"/);
    // No step answered a problem (RFC 9457 bodies carry "status": 4xx or 5xx).
    expect(out).not.toMatch(/"status":[45]\d\d/);
    expect(fs.readFileSync(path.join(dataDir, 'ledger.csv'), 'utf8').split('\n').length).toBeGreaterThan(3);
  });
});
