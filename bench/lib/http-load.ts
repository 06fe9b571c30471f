import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  requests: autocannon.AutocannonRequest[];
  overallRate?: number;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  /** non-2xx responses plus connection errors and timeouts */
  errors: number;
  statuses: Record<string, number>;
}

export const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/**
 * Runs autocannon in-process and keeps every response's latency, so p95 (which autocannon's own
 * summary lacks) comes from the same samples as p50 and p99.
 */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const instance = autocannon({
    url: o.url,
    connections: o.connections,
    duration: o.seconds,
    overallRate: o.overallRate,
    timeout: 30,
    requests: o.requests,
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    latencies.push(ms);
    statuses[status] = (statuses[status] ?? 0) + 1;
  });
  const result = await instance;
  latencies.sort((a, b) => a - b);
  const ok = Object.entries(statuses).reduce((n, [s, c]) => (s.startsWith('2') ? n + c : n), 0);
  return {
    requests: latencies.length,
    rps: latencies.length / result.duration,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    errors: latencies.length - ok + result.errors,
    statuses,
  };
}
