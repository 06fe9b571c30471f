import { z } from 'zod';

// PostgreSQL text cannot hold NUL, and control characters in ids only ever mean a bug or an attack:
// C0, DEL and C1 (U+0080-U+009F, e.g. U+0085 NEXT LINE, which some log viewers break lines on).
const PRINTABLE = /^\P{Cc}*$/u;

/** A caller-supplied identifier (user id, request id, model): 1-255 printable characters. */
export const identifier = (max = 255) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(PRINTABLE, 'must not contain control characters')
    // a lone surrogate would be stored as U+FFFD, merging distinct ids
    .refine((s) => s.isWellFormed(), 'must be well-formed Unicode');

const ID = identifier();

/** The same rule outside a request body (a token's sub). */
export const isIdentifier = (value: unknown): value is string => ID.safeParse(value).success;
