/** prom-client samples the server's event loop every 10 ms (its default) and reports whole intervals */
const SERVER_RESOLUTION_MS = 10;

export interface LoopDelay {
  p99: number;
  max: number;
}

/**
 * How late the server's event loop ran, from its own /metrics: prom-client resets the histogram at
 * every scrape, so a scrape before a scenario starts the window and one after reads it. Tells a
 * latency tail the server caused (a GC pause, a long synchronous task, the VM not running it) from one
 * it merely waited on (PostgreSQL, the disk).
 */
export async function serverLoopDelay(url: string): Promise<LoopDelay> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const seconds = (name: string) =>
    Number(new RegExp(`^nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const late = (s: number) => Math.max(0, s * 1000 - SERVER_RESOLUTION_MS);
  return { p99: late(seconds('p99')), max: late(seconds('max')) };
}
