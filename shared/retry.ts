/** Exponential backoff with equal jitter (never a zero delay, never a thundering herd). */
import { setTimeout as sleep } from 'node:timers/promises';

export interface BackoffOptions {
  /** First delay before jitter, ms. Default 100. */
  baseMs?: number;
  /** Largest delay, ms. Default 5000. */
  maxMs?: number;
}

/** Delay before retry number `attempt` (1-based): uniform in [c/2, c], c = min(max, base·2^(attempt-1)). */
export function backoffMs(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const base = options.baseMs ?? 100;
  const max = options.maxMs ?? 5000;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Sleeps for `ms`, or less when the signal aborts (then throws the abort reason). */
export async function delay(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, undefined, signal ? { signal } : undefined);
}
