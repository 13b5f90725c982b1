/**
 * The load side of `faasflow bench peer`, the same for both systems: a call is "start one
 * invocation and wait until its sink has finished", timed with `performance.now()` around it.
 *
 * - closed loop: warm-up calls, then measured calls one at a time (latency);
 * - open loop: C callers, each calling again as soon as its last call returns, for T ms
 *   (throughput); calls in flight at the end are awaited and counted.
 *
 * A loop gives up after a run of consecutive failures (a dead worker would otherwise cost one
 * call timeout per remaining call); what it measured so far is kept and the failure recorded.
 */
import type { LoopFailures } from './overhead-load.js';

export type { LoopFailures } from './overhead-load.js';

/** One invocation, start to finish; rejects when it did not succeed. */
export type Call = () => Promise<void>;

/** Consecutive failures after which a loop stops. */
const GIVE_UP_AFTER = 5;

export interface ClosedLoopResult {
  latencyMs: number[];
  failures: LoopFailures;
  /** True when the loop stopped early on consecutive failures. */
  gaveUp: boolean;
}

export interface OpenLoopResult extends ClosedLoopResult {
  concurrency: number;
  completed: number;
  elapsedMs: number;
  invocationsPerSec: number;
}

function noteFailure(f: LoopFailures, err: unknown): void {
  f.count++;
  f.first ??= err instanceof Error ? err.message : String(err);
}

async function timed(call: Call): Promise<number> {
  const start = performance.now();
  await call();
  return performance.now() - start;
}

export async function closedLoop(
  call: Call,
  o: { warmup: number; repetitions: number },
): Promise<ClosedLoopResult> {
  const result: ClosedLoopResult = { latencyMs: [], failures: { count: 0 }, gaveUp: false };
  let streak = 0;
  for (let i = 0; i < o.warmup + o.repetitions && !result.gaveUp; i++) {
    try {
      const ms = await timed(call);
      if (i >= o.warmup) result.latencyMs.push(ms);
      streak = 0;
    } catch (err) {
      noteFailure(result.failures, err);
      result.gaveUp = ++streak >= GIVE_UP_AFTER;
    }
  }
  return result;
}

export async function openLoop(
  call: Call,
  o: { concurrency: number; durationMs: number },
): Promise<OpenLoopResult> {
  const latencyMs: number[] = [];
  const failures: LoopFailures = { count: 0 };
  let streak = 0;
  let gaveUp = false;
  const start = performance.now();
  const stopAt = start + o.durationMs;
  const caller = async (): Promise<void> => {
    while (performance.now() < stopAt && !gaveUp) {
      try {
        latencyMs.push(await timed(call));
        streak = 0;
      } catch (err) {
        noteFailure(failures, err);
        if (++streak >= GIVE_UP_AFTER * o.concurrency) gaveUp = true;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, caller));
  const elapsedMs = performance.now() - start;
  return {
    latencyMs,
    failures,
    gaveUp,
    concurrency: o.concurrency,
    completed: latencyMs.length,
    elapsedMs,
    invocationsPerSec: latencyMs.length / (elapsedMs / 1000),
  };
}
