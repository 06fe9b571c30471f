import { createLogger, type Logger } from '../../src/platform/logger';

/** A real pino logger writing into memory, so tests read exactly the lines production would write. */
export function captureLogs(level = 'info'): {
  logger: Logger;
  raw(): string;
  lines(): Array<Record<string, unknown>>;
} {
  const chunks: string[] = [];
  const logger = createLogger(level, { write: (chunk: string) => void chunks.push(chunk) });
  return {
    logger,
    raw: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
