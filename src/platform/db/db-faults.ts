/**
 * Which failures mean "the database is unreachable or dropped us", as opposed to a statement that
 * failed on its own merits. They are answered 503 with Retry-After: the pool and the pipelined
 * charge connection replace a broken connection on the next query, and every money-moving request
 * is idempotent, so the caller's retry with the same requestId is safe and usually succeeds.
 */

// SQLSTATE: class 08 connection exceptions, 57P01-57P03 (admin shutdown, crash shutdown, cannot
// connect now: a failover or restart), 53300 too many connections, 57014 a statement cancelled
// (a shutdown cancelling work stuck past its deadline; the statement rolled back).
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300|57014)$/;

// node's socket errors while connecting or mid-query.
const UNAVAILABLE_SOCKET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

// node-postgres says these in plain Errors without a code (a dropped socket, the pool's
// connectionTimeoutMillis, a pool or pipelined connection closed by shutdown).
const UNAVAILABLE_MESSAGE = new RegExp(
  [
    'Connection terminated',
    'timeout exceeded when trying to connect',
    'Client has encountered a connection error',
    'Cannot use a pool after calling end',
    'pipelined connection is closed',
    'Client was closed and is not queryable',
  ].join('|'),
);

// Prisma: P1001 unreachable, P1002/P1008 timed out, P1017 server closed the connection, P2028 the
// transaction could not start (no connection in time) or its connection went away.
const UNAVAILABLE_PRISMA = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2028']);

// @prisma/adapter-pg's classification of the driver's error (meta.driverAdapterError.cause.kind).
const UNAVAILABLE_ADAPTER = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);

interface Errorish {
  code?: unknown;
  message?: unknown;
  kind?: unknown;
  originalCode?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: unknown } };
}

function says(e: Errorish): boolean {
  const code = typeof e.code === 'string' ? e.code : typeof e.originalCode === 'string' ? e.originalCode : undefined;
  if (code && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_SOCKET.has(code) || UNAVAILABLE_PRISMA.has(code)))
    return true;
  if (typeof e.kind === 'string' && UNAVAILABLE_ADAPTER.has(e.kind)) return true;
  return typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message);
}

/** True when the error, or one it wraps (cause, Prisma's driver adapter error), is a database fault. */
export function isDatabaseUnavailable(error: unknown): boolean {
  // A short, bounded walk: errors wrap one another a few levels deep at most.
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const e = current as Errorish;
    if (says(e)) return true;
    const adapter = e.meta?.driverAdapterError?.cause;
    if (adapter && typeof adapter === 'object' && says(adapter as Errorish)) return true;
    current = e.cause;
  }
  return false;
}
