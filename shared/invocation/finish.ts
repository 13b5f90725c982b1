/**
 * How an invocation ends, for whichever process coordinates it (the master, or the worker that
 * took it on its own API): the deadline, the sinks' output assembled once, the end recorded once,
 * and which failures end a durable invocation and which recovery deals with. The coordinator
 * keeps what differs (where records are stored, who is told, what learns from the result).
 */
import { AppError } from '../errors.js';
import type { InvocationRecord, InvocationStatus } from './record.js';
import { replaceGroups } from './recovery.js';
import type { Logger } from '../logger.js';
import type { Placement } from '../schema/wire.js';

/** How an invocation can end. */
export type EndStatus = Exclude<InvocationStatus, 'running'>;

/** Ends `r` with a status: the coordinator's own end (it stores, answers and tells). */
export type EndInvocation = (
  r: InvocationRecord,
  status: EndStatus,
  output?: unknown,
  error?: AppError,
) => void;

/** Arms the record's deadline: at it, a running invocation ends `timed_out`. */
export function armDeadline(r: InvocationRecord, now: number, end: EndInvocation): void {
  r.timer = setTimeout(
    () =>
      end(
        r,
        'timed_out',
        undefined,
        new AppError(
          'INVOCATION_TIMEOUT',
          `invocation ${r.id} did not finish within ${r.deadline - r.startedAt} ms`,
        ),
      ),
    Math.max(0, r.deadline - now),
  );
  r.timer.unref();
}

/**
 * Records the end on `r` and stops its timers; false when it had already ended (the first end
 * stands: a late timeout, cancel or failure changes nothing).
 */
export function endRecord(
  r: InvocationRecord,
  status: EndStatus,
  at: number,
  output?: unknown,
  error?: AppError,
): boolean {
  if (r.status !== 'running') return false;
  r.status = status;
  r.finishedAt = at;
  if (status === 'succeeded') r.output = output;
  if (error) r.error = error.toWire();
  if (r.timer) clearTimeout(r.timer);
  if (r.completeTimer) clearTimeout(r.completeTimer);
  r.timer = r.completeTimer = undefined;
  return true;
}

export interface CompleteOptions {
  /** Reads the sinks' outputs and shapes the workflow's output. */
  assemble: () => Promise<unknown>;
  end: EndInvocation;
  now: () => number;
  /**
   * Called when a durable invocation's output is unreachable for now (a sink's worker just
   * died) and the deadline has not passed: the caller tries again later, or leaves it to
   * recovery, which completes it once the groups are re-placed.
   */
  later: () => void;
}

/** Every sink has reported: assembles the output once and ends the invocation with it. */
export function completeOnce(r: InvocationRecord, o: CompleteOptions): void {
  if (r.status !== 'running' || r.completing) return;
  r.completing = true;
  o.assemble().then(
    (output) => o.end(r, 'succeeded', output),
    (err: unknown) => {
      r.completing = false;
      const e = AppError.from(err);
      if (r.durability !== 'none' && e.retryable && o.now() < r.deadline) {
        o.later();
        return;
      }
      o.end(r, 'failed', undefined, e);
    },
  );
}

/**
 * Sending triggers failed: the error that ends `r`, or undefined when `r` is durable and the
 * failure retryable (the death sweep re-places the groups of a dead worker; the deadline ends it
 * otherwise).
 */
export function sendFailure(r: InvocationRecord, err: unknown): AppError | undefined {
  const e = AppError.from(err);
  return r.durability !== 'none' && e.retryable ? undefined : e;
}

/** The error a non-durable invocation ends with when workers it ran on are gone. */
export function workersLostError(r: InvocationRecord, gone: Iterable<string>): AppError {
  return new AppError(
    'WORKER_UNREACHABLE',
    `worker ${[...gone].join(', ')} stopped responding while running invocation ${r.id}`,
  );
}

/**
 * The placement with the groups of gone workers moved to the workers a fresh placement over the
 * live ones chose. Throws WORKER_UNREACHABLE when nothing is live or a group has nowhere to go.
 */
export function replaceOnLive(
  r: InvocationRecord,
  gone: ReadonlySet<string>,
  live: readonly { id: string; url: string }[],
  fresh: (live: readonly { id: string; url: string }[]) => readonly string[],
): { placement: Placement; moved: number[] } {
  if (live.length === 0)
    throw new AppError(
      'WORKER_UNREACHABLE',
      `worker ${[...gone].join(', ')} was lost while running invocation ${r.id} and no live worker can take its groups`,
    );
  const groups = fresh(live);
  const byId = new Map(live.map((w) => [w.id, w]));
  const replaced = replaceGroups({
    placement: r.placement,
    gone,
    assign: (g) => {
      const w = byId.get(groups[g]!);
      return w ? { id: w.id, url: w.url } : undefined;
    },
  });
  if (!replaced) throw new AppError('WORKER_UNREACHABLE', `no worker for invocation ${r.id}`);
  return replaced;
}

/**
 * Runs a recovery of `r` once any in progress has settled (one at a time per invocation). A
 * recovery that fails ends `r` with its error (WORKER_UNREACHABLE unless it says otherwise) —
 * except a durable invocation before its deadline on a retryable error (no live worker yet, say,
 * just after a master took over and before its workers registered again): it stays running and
 * the next sweep or view tries again.
 */
export function recoverInTurn(
  r: InvocationRecord,
  recover: () => Promise<void>,
  o: { end: EndInvocation; logger: Pick<Logger, 'warn'>; now: () => number },
): void {
  const prev = r.recovering ?? Promise.resolve();
  const next = prev
    .then(recover)
    .catch((err: unknown) => {
      const e = AppError.from(err, 'WORKER_UNREACHABLE');
      const again = r.durability !== 'none' && e.retryable && o.now() < r.deadline;
      o.logger.warn(
        { err, invocationId: r.id },
        again ? 'recovery failed; trying again' : 'recovery failed',
      );
      if (!again) o.end(r, 'failed', undefined, e);
    })
    .finally(() => {
      if (r.recovering === next) r.recovering = undefined;
    });
  r.recovering = next;
}
