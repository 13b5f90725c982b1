/** Entry of the training worker thread (see trainer.ts): trains one job and posts the result. */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../../shared/errors.js';
import { runTraining, type ThreadReply, type TrainJob } from './trainer.js';

let reply: ThreadReply;
try {
  const out = runTraining(workerData as TrainJob);
  // A buffer of its own, so that transferring it moves nothing else.
  const bytes = new Uint8Array(out.gzipped.byteLength);
  bytes.set(out.gzipped);
  reply = { ok: true, gzipped: bytes, trainMs: out.trainMs };
} catch (err) {
  reply = { ok: false, error: AppError.from(err).toWire() };
}
parentPort?.postMessage(reply, reply.ok ? [reply.gzipped.buffer as ArrayBuffer] : []);
