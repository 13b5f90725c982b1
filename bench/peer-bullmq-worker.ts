/**
 * A BullMQ worker process for `faasflow bench peer`, so BullMQ's processors do not share the
 * event loop of the load generator (as faasflow's workers are processes of their own).
 *
 * `node peer-bullmq-worker.js --queues fn,sink --concurrency N [--sandboxed]`, with Redis in
 * PEER_BULLMQ_REDIS_URL and the key prefix in PEER_BULLMQ_PREFIX. One Worker per queue, each with
 * `concurrency` jobs at once, running peer-bullmq-processor.ts in this process (or, with
 * `--sandboxed`, in BullMQ's child processes). Sends `{ kind: 'ready' }` over IPC once every
 * Worker is connected; closes its Workers on SIGTERM or when the bench goes away.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import { parseArgs } from '../shared/flags.js';
import {
  PREFIX_ENV,
  REDIS_URL_ENV,
  closePeerProcessor,
  processPeerJob,
} from './peer-bullmq-processor.js';

export interface WorkerReadyMessage {
  kind: 'ready';
}

async function main(): Promise<void> {
  const { flags } = parseArgs(process.argv.slice(2), new Set(['sandboxed']));
  const url = process.env[REDIS_URL_ENV];
  const prefix = process.env[PREFIX_ENV];
  const queues = typeof flags['queues'] === 'string' ? flags['queues'].split(',') : [];
  const concurrency = Number(flags['concurrency']);
  if (url === undefined || prefix === undefined || queues.length === 0 || !(concurrency >= 1)) {
    throw new Error(
      `usage: ${REDIS_URL_ENV}=… ${PREFIX_ENV}=… peer-bullmq-worker --queues a,b --concurrency N [--sandboxed]`,
    );
  }
  if (flags['sandboxed'] === true) {
    // Every sandboxed child's output is piped into ours: one set of listeners per child.
    process.stdout.setMaxListeners(queues.length * concurrency + 10);
    process.stderr.setMaxListeners(queues.length * concurrency + 10);
  }
  const processor =
    flags['sandboxed'] === true
      ? fileURLToPath(new URL('./peer-bullmq-processor.js', import.meta.url))
      : processPeerJob;
  const workers = queues.map(
    (queue) =>
      new Worker(queue, processor, {
        connection: { url, maxRetriesPerRequest: null },
        prefix,
        concurrency,
      }),
  );
  for (const w of workers) w.on('error', (err) => console.error('bullmq worker error', err));
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await Promise.all(workers.map((w) => w.close()));
      await closePeerProcessor();
    })().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('closing the bullmq workers failed', err);
        process.exit(1);
      },
    ));
  process.once('SIGTERM', () => void close());
  process.once('disconnect', () => void close());
  process.send?.({ kind: 'ready' } satisfies WorkerReadyMessage);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
