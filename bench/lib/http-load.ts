import { performance } from 'node:perf_hooks';
import { Connection } from './http-connection';
import { serializeRequest, type HttpRequest } from './http-wire';

export type { HttpRequest } from './http-wire';

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  /** builds each new request; called once per request, so every body can carry its own requestId */
  next: () => HttpRequest;
  /** requests per second, paced (open loop); without it each connection sends as fast as it is answered */
  rate?: number;
  /** how long answers may take after the deadline before they count as errors */
  graceSeconds?: number;
  /** one request's limit before its socket is dropped and the request counted as an error */
  timeoutSeconds?: number;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  /** non-2xx answers plus requests lost to socket errors, bad answers and timeouts, plus failed connects */
  errors: number;
  statuses: Record<string, number>;
  /** requests written; each one is either answered (counted in `requests`) or in `errorKinds` */
  sent?: number;
  /** paced mode: requests due before the deadline that never found a free connection, so were not sent */
  unsent?: number;
  errorKinds?: Record<string, number>;
}

export const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/**
 * Keeps `connections` sockets busy for `seconds`, then stops sending and waits (at most
 * `graceSeconds`) for the answers still due, so every request sent is answered or counted as an error
 * and a scenario's database counts can be compared exactly with the 201s.
 *
 * Closed loop (no `rate`): a connection sends its next request when the previous answer arrives;
 * latency runs from the write. Paced (`rate`): requests fall due at evenly spaced times and go out
 * on a free connection; when none is free they queue, and latency runs from the time they were due,
 * not from the write, so a server that falls behind shows it in the percentiles instead of hiding it
 * by slowing the sender (the correction for "coordinated omission").
 */
export function runLoad(o: LoadOptions): Promise<LoadResult> {
  return new LoadRun(o).run();
}

interface Job {
  request: HttpRequest;
  /** when latency starts counting: the write (closed loop, follow-ups) or the due time (paced) */
  origin: number;
}

class LoadRun {
  private readonly host: string;
  private readonly conns: Connection[];
  private readonly jobs = new Map<Connection, Job>();
  private readonly followUps = new Map<Connection, HttpRequest>();
  private readonly latencies: number[] = [];
  private readonly statuses: Record<string, number> = {};
  private readonly errorKinds: Record<string, number> = {};
  private readonly due: number[] = []; // paced mode: due times not yet sent, from dueHead on
  private dueHead = 0;
  private free: Connection[] = [];
  private sent = 0;
  private unsent = 0;
  private start = 0;
  private deadline = Infinity;
  private stopped = false;
  private finished = false;
  private lastEnd = 0;
  private timers: NodeJS.Timeout[] = [];
  private paceTimer: NodeJS.Timeout | undefined;
  private startup = new Set<Connection>();
  private started!: () => void;
  private finish!: () => void;

  constructor(private readonly o: LoadOptions) {
    const url = new URL(o.url);
    this.host = url.host;
    const events = { connected: this.connected, answered: this.answered, closed: this.closed };
    this.conns = Array.from(
      { length: o.connections },
      () => new Connection(url.hostname, Number(url.port || 80), events),
    );
  }

  async run(): Promise<LoadResult> {
    // the clock starts once every socket has tried to connect, so handshakes are not in the latencies
    await new Promise<void>((resolve) => {
      this.started = resolve;
      for (const c of this.conns) c.connect();
    });
    const done = new Promise<void>((resolve) => (this.finish = resolve));
    this.start = this.lastEnd = performance.now();
    this.deadline = this.start + this.o.seconds * 1000;
    this.timers.push(setTimeout(this.stop, this.o.seconds * 1000), setInterval(this.expire, 200));
    if (this.o.rate) this.pace();
    for (const c of this.conns) this.dispatch(c);
    await done;
    for (const t of this.timers) clearTimeout(t);
    clearTimeout(this.paceTimer);
    for (const c of this.conns) c.abort('finished');
    return this.summary();
  }

  private readonly connected = (c: Connection) => {
    if (this.start === 0) return this.settledAtStartup(c);
    this.dispatch(c);
  };

  private settledAtStartup(c: Connection) {
    this.startup.add(c);
    if (this.startup.size === this.conns.length) this.started();
  }

  /** Gives an idle connection its next request: a chained follow-up first, then new work. */
  private dispatch(c: Connection) {
    if (!c.idle || this.finished) return;
    const followUp = this.followUps.get(c);
    if (followUp) {
      // sent even after the deadline: it completes a pair begun before it
      this.followUps.delete(c);
      return this.send(c, followUp, performance.now());
    }
    if (this.stopped) return this.endIfQuiet();
    if (!this.o.rate) return this.send(c, this.o.next(), performance.now());
    if (this.dueHead < this.due.length) return this.send(c, this.o.next(), this.due[this.dueHead++]);
    this.free.push(c);
  }

  private send(c: Connection, request: HttpRequest, origin: number) {
    const now = performance.now();
    this.jobs.set(c, { request, origin });
    this.sent++;
    c.send(serializeRequest(request, this.host), now);
  }

  /** Paced mode: queues everything that fell due since the last tick and hands it to free sockets. */
  private readonly pace = () => {
    const interval = 1000 / this.o.rate!;
    const now = performance.now();
    let at = this.start + this.due.length * interval;
    for (; at <= now && at < this.deadline; at = this.start + this.due.length * interval) this.due.push(at);
    while (this.dueHead < this.due.length && this.free.length > 0) {
      const c = this.free.pop()!;
      if (c.idle) this.send(c, this.o.next(), this.due[this.dueHead++]);
    }
    // one timer per tick: everything due by then goes out together, no busy waiting between
    if (at < this.deadline && !this.stopped)
      this.paceTimer = setTimeout(this.pace, Math.max(0, at - performance.now()));
  };

  private readonly answered = (c: Connection, status: number, body: Buffer) => {
    const now = performance.now();
    const job = this.jobs.get(c)!;
    this.jobs.delete(c);
    this.latencies.push(now - job.origin);
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    this.lastEnd = now;
    const followUp = job.request.then?.(status, body);
    if (followUp) this.followUps.set(c, followUp);
    this.dispatch(c); // no-op when the answer said Connection: close; `connected` picks up after the reconnect
    this.endIfQuiet();
  };

  private readonly closed = (
    c: Connection,
    lostRequest: string | undefined,
    error: string | undefined,
    established: boolean,
  ) => {
    if (this.finished) return;
    if (lostRequest) {
      this.count(lostRequest);
      this.jobs.delete(c);
      this.followUps.delete(c);
      this.lastEnd = performance.now();
    } else if (error) this.count(error);
    if (this.start === 0 && !established) this.settledAtStartup(c);
    if (this.stopped) return this.endIfQuiet();
    // a refused connect retries after a pause instead of spinning; a dropped socket reconnects at once
    setTimeout(() => !this.stopped && c.connect(), established ? 0 : 50);
  };

  private count(kind: string) {
    this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
  }

  private readonly expire = () => {
    const limit = (this.o.timeoutSeconds ?? 30) * 1000;
    const now = performance.now();
    for (const c of this.conns) if (c.inFlight && now - c.sentAt > limit) c.abort('timeout');
  };

  private readonly stop = () => {
    this.stopped = true;
    this.unsent = this.due.length - this.dueHead;
    this.timers.push(
      setTimeout(
        () => {
          for (const c of this.conns) if (c.inFlight) c.abort('no answer within the grace period');
        },
        (this.o.graceSeconds ?? 10) * 1000,
      ),
    );
    this.endIfQuiet();
  };

  private endIfQuiet() {
    if (!this.stopped || this.finished || this.conns.some((c) => c.inFlight)) return;
    this.finished = true;
    this.finish();
  }

  private summary(): LoadResult {
    const sorted = this.latencies.sort((a, b) => a - b);
    const seconds = (Math.max(this.lastEnd, this.deadline) - this.start) / 1000;
    const non2xx = Object.entries(this.statuses).reduce((n, [s, k]) => (s.startsWith('2') ? n : n + k), 0);
    const failures = Object.values(this.errorKinds).reduce((n, k) => n + k, 0);
    return {
      requests: sorted.length,
      rps: sorted.length / seconds,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      errors: non2xx + failures,
      statuses: this.statuses,
      sent: this.sent,
      unsent: this.unsent,
      errorKinds: this.errorKinds,
    };
  }
}
