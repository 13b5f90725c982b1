/**
 * The BullMQ side of `faasflow bench peer`: worker processes, the FlowProducer that starts an
 * invocation and the QueueEvents that sees it finish, all under a key prefix of the bench's own.
 *
 * An invocation is one `FlowProducer.add` (peer-shapes.ts builds the flow) and ends when its sink
 * job completes, as the sink queue's QueueEvents reports it. The sink's job id is chosen here,
 * before the add, so its completion cannot be missed (and the diamond's second flow, added by a
 * worker, can be waited for before it exists).
 *
 * Two queues: `fn` for every function but the sinks, `sink` for the sinks. Every completed job
 * writes its return value into its queue's events stream, so `fn`'s stream is capped short (its
 * payloads would otherwise pile up there) and only `sink`'s is read.
 *
 * `close()` stops the worker processes, obliterates the queues and deletes whatever else is left
 * under the prefix — only keys under the prefix, never anything else.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { FlowProducer, Queue, QueueEvents } from 'bullmq';
import { distRoot } from '../deploy/local-cluster.js';
import { PREFIX_ENV, REDIS_URL_ENV } from './peer-bullmq-processor.js';
import { bullmqFlow, type PeerQueues, type ShapeName } from './peer-shapes.js';
import type { WorkerReadyMessage } from './peer-bullmq-worker.js';

export interface BullmqPeerOptions {
  redisUrl: string;
  /** Key prefix of every queue (BullMQ's `prefix`); deleted by close(). */
  prefix: string;
  queues: PeerQueues;
  /** Worker processes. */
  processes: number;
  /** Jobs each process runs at once per queue (BullMQ Worker `concurrency`). */
  concurrency: number;
  /** Run the processor in BullMQ's sandboxed child processes instead of in-process. */
  sandboxed: boolean;
  /** Where the worker processes' output goes (one file each). */
  logDir: string;
  /** An invocation not finished after this long fails. Default 60 s. */
  callTimeoutMs?: number;
}

/** Events kept in the `fn` queue's stream (approximate; each may hold a payload). */
const FN_EVENTS_MAX_LEN = 32;
const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

interface Waiter {
  resolve: (returnvalue: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class BullmqPeer {
  private readonly workers: ChildProcess[] = [];
  private readonly queues: Queue[] = [];
  private events: QueueEvents | undefined;
  private flows: FlowProducer | undefined;
  private readonly waiters = new Map<string, Waiter>();
  private readonly tag = randomBytes(3).toString('hex');
  private seq = 0;
  private closing: Promise<void> | undefined;

  private constructor(readonly o: BullmqPeerOptions) {}

  static async start(o: BullmqPeerOptions): Promise<BullmqPeer> {
    const peer = new BullmqPeer(o);
    try {
      await peer.open();
      return peer;
    } catch (err) {
      await peer.close();
      throw err;
    }
  }

  private async open(): Promise<void> {
    const { redisUrl, prefix, queues } = this.o;
    const connection = { url: redisUrl };
    // Queue handles first: creating one writes the queue's events-stream length to its meta.
    this.queues.push(
      new Queue(queues.fn, {
        connection,
        prefix,
        streams: { events: { maxLen: FN_EVENTS_MAX_LEN } },
      }),
      new Queue(queues.sink, { connection, prefix }),
    );
    // getVersion() waits until the meta is written.
    await Promise.all(this.queues.map((q) => q.getVersion()));
    // The stream is new (the prefix is the bench's own): read it from its start, so no
    // completion can slip past between the first add and the first read.
    const events = new QueueEvents(queues.sink, { connection, prefix, lastEventId: '0-0' });
    this.events = events;
    events.on('completed', ({ jobId, returnvalue }) => this.settle(jobId, null, returnvalue));
    events.on('failed', ({ jobId, failedReason }) =>
      this.settle(jobId, new Error(`BullMQ job ${jobId} failed: ${failedReason}`)),
    );
    events.on('error', (err) => this.failAll(err));
    await events.waitUntilReady();
    this.flows = new FlowProducer({ connection, prefix });
    await this.flows.waitUntilReady();
    for (let i = 1; i <= this.o.processes; i++) this.workers.push(await this.startWorker(i));
  }

  /** Where the worker processes' entry point is, built into dist/ with the rest. */
  private static workerScript(): string {
    return join(distRoot(), 'bench', 'peer-bullmq-worker.js');
  }

  private async startWorker(index: number): Promise<ChildProcess> {
    const { redisUrl, prefix, queues, concurrency, sandboxed, logDir } = this.o;
    const name = `bullmq${sandboxed ? '-sandboxed' : ''}-${index}`;
    const logFile = join(logDir, `${name}.log`);
    const log = openSync(logFile, 'a');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      [REDIS_URL_ENV]: redisUrl,
      [PREFIX_ENV]: prefix,
    };
    // As for faasflow's processes: these slow every Node start or leak test settings.
    delete env['NODE_EXTRA_CA_CERTS'];
    delete env['NODE_OPTIONS'];
    delete env['VITEST'];
    const args = ['--queues', `${queues.fn},${queues.sink}`, '--concurrency', String(concurrency)];
    if (sandboxed) args.push('--sandboxed');
    let child: ChildProcess;
    try {
      child = fork(BullmqPeer.workerScript(), args, {
        env,
        execArgv: [],
        stdio: ['ignore', log, log, 'ipc'],
      });
    } finally {
      closeSync(log);
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${name} was not ready within ${READY_TIMEOUT_MS} ms; see ${logFile}`));
      }, READY_TIMEOUT_MS);
      const onMessage = (m: unknown): void => {
        if ((m as Partial<WorkerReadyMessage> | null)?.kind !== 'ready') return;
        cleanup();
        resolve();
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`${name} exited with code ${code} before it was ready; see ${logFile}`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    return child;
  }

  /** Adds one invocation's flow and resolves with its sink's return value once it completes. */
  async invoke(shape: ShapeName, payloadBytes: number): Promise<unknown> {
    if (!this.flows || this.closing) throw new Error('BullMQ peer is not running');
    const sinkJobId = `${this.tag}-${++this.seq}`;
    const done = new Promise<unknown>((resolve, reject) => {
      const timeoutMs = this.o.callTimeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        this.waiters.delete(sinkJobId);
        reject(
          new Error(`BullMQ ${shape} invocation ${sinkJobId} not finished after ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.waiters.set(sinkJobId, { resolve, reject, timer });
    });
    // The caller awaits `done` only once the add returns; it may settle (time out) before then.
    done.catch(() => undefined);
    try {
      await this.flows.add(bullmqFlow(shape, payloadBytes, sinkJobId, this.o.queues));
    } catch (err) {
      this.settle(sinkJobId, err instanceof Error ? err : new Error(String(err)));
    }
    return done;
  }

  private settle(jobId: string, err: Error | null, value?: unknown): void {
    const w = this.waiters.get(jobId);
    if (!w) return;
    this.waiters.delete(jobId);
    clearTimeout(w.timer);
    if (err) w.reject(err);
    else w.resolve(value);
  }

  private failAll(err: Error): void {
    for (const id of [...this.waiters.keys()]) this.settle(id, err);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.failAll(new Error('BullMQ peer closed'));
    await Promise.all(this.workers.map((c) => stopChild(c)));
    await this.flows?.close();
    await this.events?.close();
    for (const q of this.queues) {
      await q.obliterate({ force: true });
      await q.close();
    }
    await deleteRedisPrefix(this.o.redisUrl, `${this.o.prefix}:`);
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/**
 * Deletes every key starting with `prefix` (SCAN + DEL) and nothing else. The connection is a
 * BullMQ queue handle's, made without writing anything, so ioredis stays out of the bench.
 */
export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<number> {
  if (prefix.length < 4)
    throw new Error(`refusing to delete keys under the short prefix ${prefix}`);
  const handle = new Queue('peer-cleanup', {
    connection: { url: redisUrl },
    prefix: 'peer-cleanup-unused',
    skipMetasUpdate: true,
  });
  try {
    const client = await handle.getBackend().client;
    const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await client.scan(cursor, { MATCH: match, COUNT: 1000 });
      cursor = next;
      if (keys.length > 0) deleted += await client.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    await handle.close();
  }
}

/** `redis_version` of the server behind `redisUrl`, or null when INFO does not say. */
export async function redisVersion(redisUrl: string): Promise<string | null> {
  const handle = new Queue('peer-info', {
    connection: { url: redisUrl },
    prefix: 'peer-info-unused',
    skipMetasUpdate: true,
  });
  try {
    const info = await (await handle.getBackend().client).info();
    return /^redis_version:(\S+)/m.exec(info)?.[1] ?? null;
  } finally {
    await handle.close();
  }
}
