/**
 * Runs a training off the request path. Training is CPU-bound and long (about 0.5 s for 200
 * profile records and 12 s for 2,000 with the default forests — it grows faster than linearly),
 * so the master trains in a worker thread: the event loop keeps answering while the forests
 * grow. The thread returns the model set gzipped (transferred, not copied); gunzipping it back
 * is asynchronous too, leaving only the final JSON parse and forest load on the main thread.
 *
 * `inlineTrainer` trains on the calling thread; tests use it, and the master falls back to it
 * (with a warning) when the thread script is missing (running from TypeScript sources).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { AppError, type WireError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { modelSetToJson, trainModels, type TrainOptions } from './models.js';
import type { ProfileRecord } from './profile.js';

export interface TrainJob {
  records: ProfileRecord[];
  options: TrainOptions;
}

export interface TrainOutput {
  /** `modelSetToJson` output, JSON text, gzipped. */
  gzipped: Buffer;
  /** Wall time of `trainModels`, ms. */
  trainMs: number;
}

export type Trainer = (job: TrainJob, signal: AbortSignal) => Promise<TrainOutput>;

/** What the thread posts back. */
export type ThreadReply =
  { ok: true; gzipped: Uint8Array; trainMs: number } | { ok: false; error: WireError };

/** Trains and serialises; shared by both trainers. */
export function runTraining(job: TrainJob): TrainOutput {
  const started = performance.now();
  const set = trainModels(job.records, job.options);
  const trainMs = Math.round(performance.now() - started);
  return { gzipped: gzipSync(JSON.stringify(modelSetToJson(set))), trainMs };
}

export function inlineTrainer(): Trainer {
  return (job, signal) => {
    if (signal.aborted) return Promise.reject(cancelled());
    try {
      return Promise.resolve(runTraining(job));
    } catch (err) {
      return Promise.reject(AppError.from(err));
    }
  };
}

const THREAD_SCRIPT = new URL('./train-thread.js', import.meta.url);

/** One worker thread per training; aborting terminates it. */
export function threadTrainer(script: URL = THREAD_SCRIPT): Trainer {
  return (job, signal) =>
    new Promise<TrainOutput>((resolve, reject) => {
      if (signal.aborted) return reject(cancelled());
      const worker = new Worker(script, { workerData: job });
      let settled = false;
      const done = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = (): void => {
        done(() => reject(cancelled()));
        void worker.terminate();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      worker.once('message', (reply: ThreadReply) =>
        done(() =>
          reply.ok
            ? resolve({ gzipped: Buffer.from(reply.gzipped), trainMs: reply.trainMs })
            : reject(AppError.fromWire(reply.error)),
        ),
      );
      worker.once('error', (err) =>
        done(() =>
          reject(
            new AppError('INTERNAL', `the training thread failed: ${err.message}`, { cause: err }),
          ),
        ),
      );
      worker.once('exit', (code) =>
        done(() =>
          reject(
            new AppError(
              'INTERNAL',
              `the training thread exited with code ${code} before answering`,
            ),
          ),
        ),
      );
    });
}

/** The thread trainer when its compiled script exists, else the inline one (with a warning). */
export function defaultTrainer(logger: Logger): Trainer {
  if (THREAD_SCRIPT.protocol === 'file:' && existsSync(fileURLToPath(THREAD_SCRIPT)))
    return threadTrainer();
  logger.warn(
    { script: THREAD_SCRIPT.href },
    'training thread script not found; training on the main thread',
  );
  return inlineTrainer();
}

function cancelled(): AppError {
  return new AppError('CANCELLED', 'training was cancelled: the master is shutting down');
}
