// ParallelAES, stage 2 (one per segment): AES-256-CBC encrypts the segment `rounds` times, each
// round over the previous round's ciphertext, then decrypts all rounds back and checks it got the
// plaintext. CPU-bound, and the work is proportional to segment bytes × rounds.
//
// `threads` (input, default 1): with 1 the whole segment is one CBC chain on the calling thread
// (the single-threaded control); with N > 1 (0: the machine's cores) the segment is cut into N
// chunks of whole blocks, each its own chain with its own IV, encrypted in a worker_threads
// thread — the same work, spread over the cores the function is given (the thesis's ParallelAES
// uses threads). The digest then covers the chunks' digests in order.
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const BLOCK = 16;

/** Key and first IV come from the seed and the segment index, so a run is reproducible. */
export function keyMaterial(seed, index) {
  const key = createHash('sha256').update(`faasflow-harvest-aes:key:${seed}`).digest();
  const iv = createHash('sha256')
    .update(`faasflow-harvest-aes:iv:${seed}:${index}`)
    .digest()
    .subarray(0, BLOCK);
  return { key, iv };
}

function cbc(kind, key, iv, data) {
  const c =
    kind === 'encrypt'
      ? createCipheriv('aes-256-cbc', key, iv)
      : createDecipheriv('aes-256-cbc', key, iv);
  c.setAutoPadding(false);
  const head = c.update(data);
  const tail = c.final();
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}

/** `rounds` chained encryptions of `padded`, then decrypted back: its digest and the check. */
function chain(padded, key, iv, rounds) {
  const ivs = [];
  let data = padded;
  let nextIv = iv;
  for (let r = 0; r < rounds; r++) {
    ivs.push(nextIv);
    data = cbc('encrypt', key, nextIv, data);
    // Chain rounds like CBC chains blocks: the next round's IV is this round's last block.
    nextIv = Buffer.from(data.subarray(data.length - BLOCK));
  }
  const digest = createHash('sha256').update(data).digest('hex');
  let back = data;
  for (let r = rounds - 1; r >= 0; r--) back = cbc('decrypt', key, ivs[r], back);
  return { digest, verified: back.equals(padded) };
}

const THREAD = 'faasflow-harvest-aes-chunk';

// In a worker thread of the pool below: one chunk's chain per message.
function chunkJob({ chunk, seed, index, part, rounds }) {
  const { key, iv } = keyMaterial(seed, `${index}:${part}`);
  return chain(Buffer.from(chunk), key, iv, rounds);
}

if (!isMainThread && workerData?.kind === THREAD) {
  parentPort.on('message', (job) => {
    try {
      parentPort.postMessage({ result: chunkJob(job) });
    } catch (err) {
      parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) });
    }
  });
}

/**
 * A pool of threads running this very module (see the thread side above), kept across calls:
 * a warm sandbox reuses its threads, so a call pays no thread start-up (tens of ms of CPU each).
 * Idle threads are unref'd and never keep the process alive; one that fails is dropped.
 */
const idle = [];

function inThread(job) {
  return new Promise((resolve, reject) => {
    const w = idle.pop() ?? new Worker(new URL(import.meta.url), { workerData: { kind: THREAD } });
    w.ref();
    const done = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    const onMessage = (m) => {
      done();
      w.unref();
      idle.push(w);
      if (m.error !== undefined) reject(new Error(m.error));
      else resolve(m.result);
    };
    const onError = (err) => {
      done();
      reject(err);
    };
    const onExit = (code) => {
      done();
      reject(new Error(`${THREAD} thread exited with code ${code}`));
    };
    w.on('message', onMessage);
    w.once('error', onError);
    w.once('exit', onExit);
    w.postMessage(job);
  });
}

function inThreads(jobs) {
  return Promise.all(jobs.map(inThread));
}

export function threadCount(threads) {
  if (threads === undefined || threads === null) return 1;
  if (!Number.isInteger(threads) || threads < 0 || threads > 256)
    throw new RangeError('threads must be an integer from 0 (the machine’s cores) to 256');
  return threads === 0 ? availableParallelism() : threads;
}

export default async function encrypt(segment) {
  const { index, rounds, seed } = segment;
  const plain = Buffer.from(segment.text);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new RangeError('rounds must be an integer >= 1');
  // Zero-pad to whole blocks; padding is part of what is encrypted, so it is counted in `bytes`.
  const padded = Buffer.alloc(Math.ceil(plain.length / BLOCK) * BLOCK || BLOCK);
  plain.copy(padded);
  const blocks = padded.length / BLOCK;
  const threads = Math.min(threadCount(segment.threads), blocks);
  const base = { index, offset: segment.offset, bytes: plain.length, rounds };
  if (threads <= 1) {
    const { key, iv } = keyMaterial(seed, index);
    return { ...base, ...chain(padded, key, iv, rounds) };
  }
  const jobs = [];
  for (let part = 0; part < threads; part++) {
    const from = Math.floor((blocks * part) / threads) * BLOCK;
    const to = Math.floor((blocks * (part + 1)) / threads) * BLOCK;
    jobs.push({ chunk: padded.subarray(from, to), seed, index, part, rounds });
  }
  const parts = await inThreads(jobs);
  const digest = createHash('sha256');
  for (const p of parts) digest.update(p.digest);
  return {
    ...base,
    threads,
    digest: digest.digest('hex'),
    verified: parts.every((p) => p.verified),
  };
}
