/**
 * The BullMQ processor of `faasflow bench peer`: the same functions as the faasflow fixtures. Used
 * in-process by the BullMQ worker processes (peer-bullmq-worker.ts) and, as this file's default
 * export, as a sandboxed processor (BullMQ forks a child per concurrent job and imports it).
 *
 * A job reads its input (its children's values when it is a parent, else its data), then returns
 * it unchanged (no-op), a payload string, or `{ bytes }` for a sink with a payload. The diamond's
 * merge adds the next flow itself, with its output as the input of the branches.
 *
 * Where Redis is comes from the environment the bench starts the worker processes with
 * (PEER_BULLMQ_REDIS_URL, PEER_BULLMQ_PREFIX), which sandboxed children inherit.
 */
import { FlowProducer } from 'bullmq';
import { nextFlow, type PeerJobData } from './peer-shapes.js';

/** What the processor uses of a job: a Job in-process, a SandboxedJob in a child. */
export interface PeerJob {
  data: PeerJobData;
  getChildrenValues(): Promise<Record<string, unknown>>;
}

export const REDIS_URL_ENV = 'PEER_BULLMQ_REDIS_URL';
export const PREFIX_ENV = 'PEER_BULLMQ_PREFIX';

const payloads = new Map<number, string>();

/** One string per size, made once: the function's work is handing it over, not building it. */
function payload(bytes: number): string {
  let p = payloads.get(bytes);
  if (p === undefined) {
    p = 'x'.repeat(bytes);
    payloads.set(bytes, p);
  }
  return p;
}

/** Bytes of payload in a value: string lengths, summed through arrays and objects. */
export function payloadSize(v: unknown): number {
  if (typeof v === 'string') return v.length;
  if (Array.isArray(v)) return v.reduce((s: number, x) => s + payloadSize(x), 0);
  if (v !== null && typeof v === 'object')
    return Object.values(v).reduce((s: number, x) => s + payloadSize(x), 0);
  return 0;
}

let flows: FlowProducer | undefined;

function flowProducer(): FlowProducer {
  const url = process.env[REDIS_URL_ENV];
  const prefix = process.env[PREFIX_ENV];
  if (url === undefined || prefix === undefined)
    throw new Error(`peer processor: ${REDIS_URL_ENV} and ${PREFIX_ENV} must be set`);
  flows ??= new FlowProducer({ connection: { url }, prefix });
  return flows;
}

export async function processPeerJob(job: PeerJob): Promise<unknown> {
  const d = job.data;
  const input = d.fromChildren ? await job.getChildrenValues() : d.input;
  const output =
    d.payloadBytes === 0 ? input : d.sink ? { bytes: payloadSize(input) } : payload(d.payloadBytes);
  if (d.then === undefined) return output;
  await flowProducer().add(nextFlow(d.then, d.payloadBytes, output));
  // Merge's output already travels in the next flow's job data; nothing waits for this value.
  return { forwarded: true };
}

export default processPeerJob;

/** Closes the FlowProducer the diamond's merge opened, if any. */
export async function closePeerProcessor(): Promise<void> {
  const f = flows;
  flows = undefined;
  await f?.close();
}
