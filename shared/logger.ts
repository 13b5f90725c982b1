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
