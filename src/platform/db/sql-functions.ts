import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { PROJECT_ROOT } from '../paths';

// The current definition of every SQL function, one file each (docs/decisions/sql-functions-in-files.md).
export const FUNCTIONS_DIR = path.join(PROJECT_ROOT, 'prisma', 'sql', 'functions');

export interface FunctionFile {
  name: string;
  sql: string;
}

export function readFunctionFiles(dir = FUNCTIONS_DIR): FunctionFile[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => ({ name: f.slice(0, -'.sql'.length), sql: fs.readFileSync(path.join(dir, f), 'utf8') }));
}

/**
 * Runs every file's CREATE OR REPLACE FUNCTION inside the caller's transaction. First with bodies
 * unchecked (as pg_dump restores), so a file may call a function whose file comes later; then
 * again with bodies checked, now that all exist, so a broken body fails the deploy, not a charge.
 */
export async function applyFunctionFiles(client: pg.ClientBase, files = readFunctionFiles()): Promise<void> {
  for (const check of ['off', 'on']) {
    await client.query(`SET LOCAL check_function_bodies = ${check}`);
    for (const f of files) {
      await client.query(f.sql).catch((error: Error) => {
        throw new Error(`prisma/sql/functions/${f.name}.sql: ${error.message}`);
      });
    }
  }
}

const definitionsOf = async (client: pg.ClientBase) =>
  (
    await client.query<{ name: string; def: string }>(
      `SELECT p.proname AS name, pg_get_functiondef(p.oid) AS def FROM pg_proc p
       JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = current_schema() AND p.prokind = 'f'
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
       ORDER BY p.proname, p.oid`,
    )
  ).rows;

// Both sides are rendered by pg_get_functiondef, so only whitespace can differ without meaning.
const normalize = (def: string) =>
  def
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
    .join('\n');

/**
 * What differs between the database and the function files: a function without a file, a file
 * without its function, a name with more than one overload, or a definition other than the one its
 * file creates. The files are applied in a transaction that is rolled back, so PostgreSQL renders
 * both sides the same way. Returns one line per difference; empty when they agree.
 */
export async function functionDrift(client: pg.ClientBase, files = readFunctionFiles()): Promise<string[]> {
  const drift: string[] = [];
  await client.query('BEGIN');
  try {
    const before = await definitionsOf(client);
    await applyFunctionFiles(client, files);
    const after = await definitionsOf(client);
    const names = new Set([...before, ...after].map((r) => r.name));
    for (const name of [...names].sort()) {
      const was = before.filter((r) => r.name === name);
      const is = after.filter((r) => r.name === name);
      if (!files.some((f) => f.name === name))
        drift.push(`${name}: defined in the database, no file in prisma/sql/functions`);
      else if (was.length === 0) drift.push(`${name}: its file's function is missing from the database`);
      else if (is.length > 1)
        drift.push(`${name}: ${is.length} overloads; a file defines one (drop the old in a migration)`);
      else if (normalize(was[0].def) !== normalize(is[0].def))
        drift.push(`${name}: the database's definition differs from its file`);
    }
  } finally {
    await client.query('ROLLBACK');
  }
  return drift;
}
