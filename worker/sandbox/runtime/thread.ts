/**
 * The thread runtime: the entry of one `worker_threads` thread of the thread tier. It loads its
 * function from `workerData` ({ fnName, source }) with the same code as the runtime server
 * (`handler.ts`), answers `ready` (or an `error` with id 0), then runs one call per `run` message.
 *
 * Messages (structured clone over the thread's port; see `thread-messages.ts`): outputs travel by
 * transfer of their ArrayBuffer — a zero-copy move, never a clone — and a stray error thrown
 * outside an awaited handler is charged to the run in flight, as in the runtime server. CPU time
 * per run is the thread's event-loop active time (`performance.eventLoopUtilization`), which
 * counts synchronous waits as well: Node 20 has no per-thread CPU clock.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { describeThrown, loadHandler, RunTracker, type Handler } from './handler.js';
import {
  ownedArrayBuffer,
  type ThreadReply,
  type ThreadRequest,
  type ThreadInit,
} from './thread-messages.js';

const port = parentPort;
if (port === null) throw new Error('thread.js runs as a worker thread of the thread tier');
const init = workerData as ThreadInit;
let handler: Handler | null = null;

function reply(message: ThreadReply, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

const runs = new RunTracker(
  {
    result: (id, output, cpuTimeUs) => {
      const moved = ownedArrayBuffer(output);
      reply({ kind: 'result', id, output: moved, cpuTimeUs }, [moved.buffer as ArrayBuffer]);
    },
    error: (id, thrown) => reply({ kind: 'error', id, ...thrown }),
  },
  () => performance.eventLoopUtilization().active * 1000,
);

process.on('uncaughtException', (err) => {
  if (!runs.stray(err)) reply({ kind: 'stray', ...describeThrown(err) });
});
process.on('unhandledRejection', (reason) => {
  if (!runs.stray(reason)) reply({ kind: 'stray', ...describeThrown(reason) });
});

port.on('message', (message: ThreadRequest) => {
  void runs.run(handler, message.id, {
    ...message.call,
    input: asBuffer(message.call.input),
    workflowInput:
      message.call.workflowInput === null ? null : asBuffer(message.call.workflowInput),
  });
});

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const startedMs = performance.now();
loadHandler(init.fnName, init.source).then(
  (loaded) => {
    handler = loaded;
    reply({ kind: 'ready', loadMs: performance.now() - startedMs });
  },
  (err: unknown) => reply({ kind: 'error', id: 0, ...describeThrown(err) }),
);
