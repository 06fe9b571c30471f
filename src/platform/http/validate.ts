import type { z } from 'zod';
import { badRequest } from '../errors';

/** Parses input with a zod schema; failure is a 400 naming each offending field. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  where: 'body' | 'query' | 'params' = 'body',
): z.infer<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.join('.') : where,
    message: issue.message,
  }));
  throw badRequest(`Invalid ${where}: ${errors.map((e) => e.field).join(', ')}`, errors);
}
