import type { Response } from 'express';

/**
 * X-Data-As-Of: the answer came from the read replica, which had replayed the primary's commits up
 * to this moment. Absent when the primary answered (its data is current).
 */
export function dataAsOf(res: Response, asOf: Date | null): Response {
  if (asOf) res.setHeader('X-Data-As-Of', asOf.toISOString());
  return res;
}
