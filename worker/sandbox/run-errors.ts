/**
 * The errors a run ends with, built in one place so every tier (process children, containers,
 * threads, trusted) reports the same code, retryability and details for the same event: what
 * the handler threw, a failed load, a timeout, a cancellation.
 */
import { AppError } from '../../shared/errors.js';
import { NON_RETRYABLE, type ThrownError } from './runtime/handler.js';

/** The handler threw (or rejected): retryable unless it said it is not. */
export function handlerThrew(label: string, thrown: ThrownError): AppError {
  return new AppError('FUNCTION_FAILED', `function ${label} threw: ${thrown.message}`, {
    details: { message: thrown.message, stack: thrown.stack, name: thrown.name },
    retryable: thrown.name !== NON_RETRYABLE,
  });
}

/** The function could not be loaded: running it again would fail the same way. */
export function loadFailed(label: string, thrown: ThrownError): AppError {
  return new AppError('FUNCTION_FAILED', `loading function ${label} failed: ${thrown.message}`, {
    retryable: false,
    details: { phase: 'init', message: thrown.message, stack: thrown.stack, name: thrown.name },
  });
}

export function timedOut(
  label: string,
  fnName: string,
  timeoutMs: number,
  sandboxId: string,
): AppError {
  return new AppError(
    'FUNCTION_TIMEOUT',
    `function ${label} timed out after ${timeoutMs} ms (its timeoutMs limit)`,
    { details: { fn: fnName, timeoutMs, sandboxId } },
  );
}

export function cancelled(label: string, signal: AbortSignal | undefined): AppError {
  return new AppError('CANCELLED', `run of ${label} cancelled`, {
    details: { reason: String(signal?.reason) },
  });
}

export interface GuardOptions {
  label: string;
  fnName: string;
  sandboxId: string;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  /** Stops the run's sandbox after a timeout or a cancellation (it is never reused). */
  stop: (reason: string) => void;
}

/** Settles a guarded run: with a value, or with an error. Later calls do nothing. */
export interface Settle<T> {
  ok: (value: T) => void;
  fail: (err: AppError) => void;
  /** True once the run is settled. */
  readonly done: boolean;
}

/**
 * One run that settles exactly once: with what `begin` settles it with, or FUNCTION_TIMEOUT after
 * `timeoutMs`, or CANCELLED when `signal` aborts — the last two stop the sandbox.
 */
export function guardedRun<T>(o: GuardOptions, begin: (settle: Settle<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const settle: Settle<T> = {
      ok: (value) => {
        if (finish()) resolve(value);
      },
      fail: (err) => {
        if (finish()) reject(err);
      },
      get done() {
        return done;
      },
    };
    const onAbort = (): void => {
      settle.fail(cancelled(o.label, o.signal));
      o.stop('cancelled');
    };
    const timer = setTimeout(() => {
      settle.fail(timedOut(o.label, o.fnName, o.timeoutMs, o.sandboxId));
      o.stop('timed out');
    }, o.timeoutMs);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted === true) {
      onAbort();
      return;
    }
    begin(settle);
  });
}
