/**
 * The root pino logger of a process. Context goes in child bindings, not in messages.
 * Level from LOG_LEVEL (default `info`; tests default to `silent`).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(bindings: Record<string, unknown> = {}, level?: string): Logger {
  const resolved =
    level ?? process.env['LOG_LEVEL'] ?? (process.env['VITEST'] === undefined ? 'info' : 'silent');
  return pino({ level: resolved, base: { pid: process.pid, ...bindings } });
}

export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * A logger of its own into `file` (appended, created 0600), synchronous so a line is in the
 * file when the call returns; for audit lines. `close` flushes and closes the file.
 */
export function createFileLogger(
  file: string,
  bindings: Record<string, unknown> = {},
): { logger: Logger; close: () => void } {
  const dest = pino.destination({ dest: file, sync: true, mkdir: true, mode: 0o600 });
  return {
    logger: pino({ level: 'info', base: { pid: process.pid, ...bindings } }, dest),
    close: () => dest.end(),
  };
}
