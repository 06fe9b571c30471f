import { z } from 'zod';

// PostgreSQL text cannot hold NUL, and control characters in ids only ever mean a bug or an attack.
const PRINTABLE = /^[^\u0000-\u001f\u007f]*$/;

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
