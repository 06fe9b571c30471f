import pg from 'pg';

export type FallbackReason = 'lag' | 'unavailable' | 'not_standby' | 'query_failed';

export type Freshness =
  | { usable: true; lagSeconds: number; asOf: Date }
  | { usable: false; reason: Exclude<FallbackReason, 'query_failed'>; lagSeconds?: number; error?: unknown };

interface Sample {
  lsn: bigint;
  at: number;
}

export interface FreshnessOptions {
  maxLagSeconds: number;
  /** How long one verdict is reused, so a read does not pay two more round trips. */
  cacheMs?: number;
  /** Bounds each probe query and connection attempt: a black-holed replica must not stall reads. */
  probeTimeoutMs?: number;
  now?: () => number;
}

/** "16/B374D848" as a number that orders like the WAL position. */
export function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

// WAL pages are 8 kB; a page begins with a header of 24 bytes, or 40 at the start of a segment.
const WAL_PAGE = 8192n;
const LONG_PAGE_HEADER = 40n;

/**
 * True when a standby that replayed up to `replayed` holds everything written before the primary's
 * insert position was `inserted`. The insert position skips the header of a page it has just
 * entered (after a segment switch, say) while the replayed end stops at the page boundary, so a
 * gap no larger than a page header at a page boundary holds no record and is no lag.
 */
export function caughtUpWith(replayed: bigint, inserted: bigint): boolean {
  return replayed >= inserted || (replayed % WAL_PAGE === 0n && inserted - replayed <= LONG_PAGE_HEADER);
}

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  work.catch(() => undefined); // a late failure after the timeout has nobody to tell
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

const STANDBY_STATE = `SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed,
  pg_last_xact_replay_timestamp() AS "replayedAt",
  extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 AS "replayAge"`;

/**
 * How stale the replica may be, as an upper bound from two facts that each hold on their own:
 * - every commit before the replica's last replayed commit is visible (the replay timestamp), and
 * - every commit before a moment when the primary's WAL insert position was at or below the
 *   replica's replay position is visible (samples of pg_current_wal_insert_lsn() taken here).
 * The smaller bound wins. On an idle primary the replay timestamp grows old, but the replica has
 * replayed everything the primary wrote, so the second bound stays near zero: idle is not lag.
 */
export class ReplicaFreshness {
  private readonly samples: Sample[] = [];
  private verdict?: { value: Freshness; until: number };
  private pending?: Promise<Freshness>;
  private probe?: Promise<pg.Client>;
  private readonly now: () => number;
  private readonly cacheMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly primary: pg.Pool,
    private readonly replicaConfig: pg.ClientConfig,
    private readonly options: FreshnessOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.cacheMs = options.cacheMs ?? 1000;
    this.timeoutMs = options.probeTimeoutMs ?? 2000;
  }

  /** The cached verdict, or one fresh check shared by every read that asks meanwhile. */
  check(): Promise<Freshness> {
    if (this.verdict && this.verdict.until > this.now()) return Promise.resolve(this.verdict.value);
    this.pending ??= this.measure()
      .catch((error): Freshness => ({ usable: false, reason: 'unavailable', error }))
      .then((value) => {
        this.verdict = { value, until: this.now() + this.cacheMs };
        this.pending = undefined;
        return value;
      });
    return this.pending;
  }

  /** A read failed on the replica: the next read checks again instead of trusting the cached verdict. */
  invalidate(): void {
    this.verdict = undefined;
  }

  async close(): Promise<void> {
    const probe = this.probe;
    this.probe = undefined;
    await probe?.then((c) => c.end()).catch(() => undefined);
  }

  private async measure(): Promise<Freshness> {
    await this.samplePrimary();
    let state: { standby: boolean; replayed: string | null; replayedAt: Date | null; replayAge: number | null };
    try {
      const client = await this.connected();
      state = (await client.query({ text: STANDBY_STATE, query_timeout: this.timeoutMs } as pg.QueryConfig)).rows[0];
    } catch (error) {
      await this.close();
      return { usable: false, reason: 'unavailable', error };
    }
    // A promoted or misconfigured server replays nothing: its data can drift from the books for good.
    if (!state.standby || state.replayed === null) return { usable: false, reason: 'not_standby' };
    const now = this.now();
    const replayed = parseLsn(state.replayed);
    const caughtUpAt = this.samples
      .filter((s) => caughtUpWith(replayed, s.lsn))
      .reduce((at, s) => Math.max(at, s.at), -Infinity);
    const bounds = [(now - caughtUpAt) / 1000, state.replayAge ?? Infinity];
    const lagSeconds = Math.max(0, Math.min(...bounds));
    if (lagSeconds > this.options.maxLagSeconds) return { usable: false, reason: 'lag', lagSeconds };
    // The header promises the replica's last replayed commit; a standby that replayed none since it
    // started has shown it holds everything up to the sample it caught up with.
    return { usable: true, lagSeconds, asOf: state.replayedAt ?? new Date(caughtUpAt) };
  }

  /** Records where the primary's WAL was just before now; a failed sample leaves the replay-time bound alone. */
  private async samplePrimary(): Promise<void> {
    const at = this.now();
    try {
      // Bounded as a whole, waiting for a pool connection included: a busy primary pool must not hold reads up.
      const { rows } = await within(
        this.timeoutMs,
        this.primary.query({
          text: 'SELECT pg_current_wal_insert_lsn()::text AS lsn',
          query_timeout: this.timeoutMs,
        } as pg.QueryConfig),
      );
      this.samples.push({ lsn: parseLsn(rows[0].lsn), at });
    } catch {
      return;
    }
    // Older samples than the limit cannot make a replica usable; keep a few beyond it and no more.
    const keepAfter = at - (this.options.maxLagSeconds * 1000 + 2 * this.cacheMs);
    while (this.samples.length > 1 && (this.samples[0].at < keepAfter || this.samples.length > 512))
      this.samples.shift();
  }

  private connected(): Promise<pg.Client> {
    if (this.probe) return this.probe;
    const client = new pg.Client({ ...this.replicaConfig, connectionTimeoutMillis: this.timeoutMs });
    const connecting = client.connect().then(() => client);
    const forget = () => {
      if (this.probe === connecting) this.probe = undefined;
      client.end().catch(() => undefined);
    };
    client.on('error', forget);
    client.on('end', forget);
    connecting.catch(forget);
    this.probe = connecting;
    return connecting;
  }
}
