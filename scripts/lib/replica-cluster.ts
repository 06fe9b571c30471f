import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { migrate } from '../../src/platform/db/migrator';
import { caughtUpWith, parseLsn } from '../../src/platform/db/replica-freshness';
import { freePorts } from './ports';

const BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
const TOOLS = ['initdb', 'pg_ctl', 'pg_basebackup', 'postgres'];

export interface ReplicaCluster {
  primaryUrl: string;
  standbyUrl: string;
  sql<T = Record<string, unknown>>(server: 'primary' | 'standby', text: string, params?: unknown[]): Promise<T[]>;
  /** Resolves once the standby has replayed everything the primary has written so far. */
  caughtUp(): Promise<void>;
  stopStandby(): Promise<void>;
  /** Stops both servers and removes their folder. */
  stop(): Promise<void>;
}

/** Runs a PostgreSQL tool as the postgres user (the server refuses to run as root). */
function asPostgres(tool: string, args: string[], cwd: string) {
  const command = path.join(BIN, tool);
  const options = { encoding: 'utf8' as const, cwd };
  const r =
    process.getuid?.() === 0
      ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], options)
      : spawnSync(command, args, options);
  if (r.status !== 0) throw new Error(`${tool} failed (${r.status ?? r.error?.message}): ${r.stderr || r.stdout}`);
}

function settings(port: number, socketDir: string) {
  return [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${socketDir}'`,
    'max_connections = 60',
    'shared_buffers = 32MB',
    'max_wal_senders = 4',
    'hot_standby = on',
    // Test data only: durability buys nothing here, and autovacuum's own commits would blur "idle".
    'fsync = off',
    'autovacuum = off',
  ].join('\n');
}

/**
 * A primary and a hot standby (streaming replication) of Debian's PostgreSQL 15 on free loopback
 * ports under a temporary folder owned by postgres; the primary's `postgres` database is migrated.
 */
export async function startReplicaCluster(): Promise<ReplicaCluster> {
  const missing = TOOLS.filter((t) => !fs.existsSync(path.join(BIN, t)));
  if (missing.length)
    throw new Error(
      `The replica tests need PostgreSQL 15 server binaries (Debian package postgresql-15): ` +
        `${missing.join(', ')} not found in ${BIN}`,
    );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-replica-'));
  const [primaryPort, standbyPort] = await freePorts(2);
  const primaryDir = path.join(dir, 'primary');
  const standbyDir = path.join(dir, 'standby');
  const started: string[] = [];
  const stopServer = (data: string) => {
    if (!started.includes(data)) return;
    started.splice(started.indexOf(data), 1);
    try {
      asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'], dir);
    } catch {
      // already stopped
    }
  };
  const stop = () => {
    stopServer(standbyDir);
    stopServer(primaryDir);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const pools = { primary: undefined as pg.Pool | undefined, standby: undefined as pg.Pool | undefined };
  const url = (port: number) => `postgresql://postgres@127.0.0.1:${port}/postgres`;

  try {
    if (process.getuid?.() === 0) {
      const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout);
      const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout);
      fs.chownSync(dir, uid, gid);
    }
    asPostgres(
      'initdb',
      ['-D', primaryDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      dir,
    );
    fs.appendFileSync(path.join(primaryDir, 'postgresql.conf'), `\n${settings(primaryPort, dir)}\n`);
    asPostgres('pg_ctl', ['-D', primaryDir, '-l', path.join(dir, 'primary.log'), '-w', '-t', '60', 'start'], dir);
    started.push(primaryDir);
    // -R writes standby.signal and primary_conninfo; the copied settings then only need their own port.
    asPostgres(
      'pg_basebackup',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(primaryPort),
        '-U',
        'postgres',
        '-D',
        standbyDir,
        '-R',
        '-X',
        'stream',
        '-c',
        'fast',
        '--no-sync',
      ],
      dir,
    );
    fs.appendFileSync(path.join(standbyDir, 'postgresql.conf'), `\nport = ${standbyPort}\n`);
    asPostgres('pg_ctl', ['-D', standbyDir, '-l', path.join(dir, 'standby.log'), '-w', '-t', '60', 'start'], dir);
    started.push(standbyDir);
    await migrate(url(primaryPort));
  } catch (error) {
    stop();
    throw error;
  }

  const pool = (server: 'primary' | 'standby') => {
    if (pools[server]) return pools[server];
    const p = new pg.Pool({
      connectionString: url(server === 'primary' ? primaryPort : standbyPort),
      max: 2,
      application_name: 'replica-test',
    });
    p.on('error', () => undefined);
    return (pools[server] = p);
  };
  const sql = async <T>(server: 'primary' | 'standby', text: string, params: unknown[] = []) =>
    (await pool(server).query(text, params)).rows as T[];
  const cluster: ReplicaCluster = {
    primaryUrl: url(primaryPort),
    standbyUrl: url(standbyPort),
    sql,
    async caughtUp() {
      const [{ lsn }] = await sql<{ lsn: string }>('primary', 'SELECT pg_current_wal_insert_lsn()::text AS lsn');
      for (let i = 0; i < 600; i++) {
        const [{ replayed }] = await sql<{ replayed: string }>(
          'standby',
          'SELECT pg_last_wal_replay_lsn()::text AS replayed',
        );
        if (caughtUpWith(parseLsn(replayed), parseLsn(lsn))) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('the standby did not catch up within 30 s');
    },
    async stopStandby() {
      const standby = pools.standby;
      pools.standby = undefined;
      await standby?.end().catch(() => undefined);
      stopServer(standbyDir);
    },
    async stop() {
      for (const p of [pools.primary, pools.standby]) await p?.end().catch(() => undefined);
      stop();
    },
  };
  await cluster.caughtUp();
  return cluster;
}
