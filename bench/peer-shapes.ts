/**
 * The DAG shapes of `faasflow bench peer`, as each system runs them.
 *
 * faasflow runs the YAML fixtures in bench/workflows/peer/ (one per shape and payload). BullMQ
 * runs the same DAG as FlowProducer flows, built here. Flows are trees: a parent job runs once
 * all its children have completed and reads their return values with `getChildrenValues()`.
 *
 * - chain of 5: nested children, the leaf first and the sink as the root;
 * - fan-out 8 + join: one flow, the sink with 8 children (every branch gets the invocation
 *   input, as in faasflow, so there is no producer before the fan-out and no diamond);
 * - genome (5 individuals → merge → 2 analyses → sink): merge's output feeds two jobs that the
 *   sink joins, a diamond no BullMQ flow can express (one parent per job; see
 *   taskforcesh/bullmq#2453 and #3812). The maintainers' pattern is used: flow 1 is merge with the
 *   5 individuals as children; merge's processor adds flow 2, the sink with the 2 analyses as
 *   children, carrying merge's output in their job data;
 * - foreach of 64: one flow, the sink with 64 children, one per item.
 *
 * Functions behave the same on both systems: a no-op returns its input; with a payload, every
 * function but the sink outputs `payloadBytes` (a Buffer on faasflow, whose wire carries binary; a
 * string on BullMQ, whose job values are JSON) and the sink returns `{ bytes }`, the size of what
 * it received, so neither system ships a payload back to the caller.
 */
import { join } from 'node:path';
import type { FlowJob } from 'bullmq';
import { repoRoot } from './paths.js';

export const SHAPES = ['chain5', 'fanout', 'genome', 'foreach'] as const;
export type ShapeName = (typeof SHAPES)[number];

export const PAYLOADS = ['noop', '1mb'] as const;
export type PayloadName = (typeof PAYLOADS)[number];

export interface ShapeInfo {
  label: string;
  /** Functions (BullMQ jobs) one invocation runs: jobs/s = invocations/s × this. */
  functions: number;
  /** The sink's `bytes` with a payload of `p` bytes: what the sink must have received. */
  sinkBytes: (p: number) => number;
  /** How BullMQ runs it, for the table's notes. */
  bullmqNote: string;
}

const FANOUT = 8;
const INDIVIDUALS = 5;
const ANALYSES = 2;
const FOREACH_ITEMS = 64;

export const SHAPE_INFO: Record<ShapeName, ShapeInfo> = {
  chain5: {
    label: 'chain of 5',
    functions: 5,
    sinkBytes: (p) => p,
    bullmqNote: '1 flow: nested children',
  },
  fanout: {
    label: 'fan-out 8 + join',
    functions: FANOUT + 1,
    sinkBytes: (p) => FANOUT * p,
    bullmqNote: '1 flow: sink with 8 children',
  },
  genome: {
    label: 'genome (5 → merge → 2 → sink)',
    functions: INDIVIDUALS + 1 + ANALYSES + 1,
    sinkBytes: (p) => ANALYSES * p,
    bullmqNote: "diamond: 2 flows, merge's processor adds the second",
  },
  foreach: {
    label: 'foreach of 64',
    functions: FOREACH_ITEMS + 1,
    sinkBytes: (p) => FOREACH_ITEMS * p,
    bullmqNote: '1 flow: sink with 64 children',
  },
};

/** The payload's output size in bytes: 0 for no-op functions. */
export function payloadBytes(payload: PayloadName, bytes: number): number {
  return payload === 'noop' ? 0 : bytes;
}

export function fixturePath(shape: ShapeName, payload: PayloadName): string {
  return join(repoRoot(), 'bench', 'workflows', 'peer', `${shape}-${payload}.yaml`);
}

/** The faasflow invocation input: what the functions read (`payloadBytes`, foreach `items`). */
export function faasflowInput(shape: ShapeName, bytes: number): Record<string, unknown> {
  return {
    n: 1,
    payloadBytes: bytes,
    ...(shape === 'foreach' ? { items: Array.from({ length: FOREACH_ITEMS }, (_, i) => i) } : {}),
  };
}

/** What a BullMQ job of the bench carries; the processor (peer-bullmq-processor.ts) reads it. */
export interface PeerJobData {
  /** Output size of a non-sink function; 0 makes every function a no-op (returns its input). */
  payloadBytes: number;
  /** The job is a parent: its input is its children's values. Otherwise `input` is. */
  fromChildren: boolean;
  input?: unknown;
  /** With a payload, the sink returns `{ bytes }` of its input instead of a payload. */
  sink: boolean;
  /** The diamond: once run, add the next flow with this function's output as its branches' input. */
  then?: NextFlow;
}

export interface NextFlow {
  /** The sink's job id, chosen by the caller so it can wait for it before it exists. */
  sinkJobId: string;
  branches: number;
  queues: PeerQueues;
}

export interface PeerQueues {
  /** Every function but the sinks. Its events stream is kept short: payloads end up in it. */
  fn: string;
  /** The sinks, whose completion the caller waits for. */
  sink: string;
}

/**
 * Removed once completed (a parent keeps its children's values in its own hash); a failed child
 * fails its parent, so a failure reaches the sink the caller waits on.
 */
const CHILD_OPTS = {
  removeOnComplete: true,
  removeOnFail: 100,
  failParentOnFailure: true,
} as const;
const ROOT_OPTS = { removeOnComplete: true, removeOnFail: 100 } as const;

/**
 * The flow to add for one invocation. The job whose completion ends the invocation is the sink
 * with id `sinkJobId`: the root of the flow, or (genome) of the flow merge's processor adds.
 */
export function bullmqFlow(
  shape: ShapeName,
  bytes: number,
  sinkJobId: string,
  queues: PeerQueues,
): FlowJob {
  const input = { n: 1 };
  const leaf = (data: unknown): FlowJob => ({
    name: 'fn',
    queueName: queues.fn,
    data: {
      payloadBytes: bytes,
      fromChildren: false,
      input: data,
      sink: false,
    } satisfies PeerJobData,
    opts: CHILD_OPTS,
  });
  const sink = (children: FlowJob[]): FlowJob => ({
    name: 'sink',
    queueName: queues.sink,
    data: { payloadBytes: bytes, fromChildren: true, sink: true } satisfies PeerJobData,
    opts: { ...ROOT_OPTS, jobId: sinkJobId },
    children,
  });
  switch (shape) {
    case 'chain5': {
      let node = leaf(input);
      for (let i = 0; i < 3; i++) {
        node = {
          name: 'fn',
          queueName: queues.fn,
          data: { payloadBytes: bytes, fromChildren: true, sink: false } satisfies PeerJobData,
          opts: CHILD_OPTS,
          children: [node],
        };
      }
      return sink([node]);
    }
    case 'fanout':
      return sink(Array.from({ length: FANOUT }, () => leaf(input)));
    case 'genome':
      return {
        name: 'merge',
        queueName: queues.fn,
        data: {
          payloadBytes: bytes,
          fromChildren: true,
          sink: false,
          then: { sinkJobId, branches: ANALYSES, queues },
        } satisfies PeerJobData,
        opts: ROOT_OPTS,
        children: Array.from({ length: INDIVIDUALS }, () => leaf(input)),
      };
    case 'foreach':
      return sink(Array.from({ length: FOREACH_ITEMS }, (_, i) => leaf(i)));
  }
}

/** Flow 2 of the diamond, added by merge's processor: the sink joining the branches. */
export function nextFlow(next: NextFlow, bytes: number, input: unknown): FlowJob {
  return {
    name: 'sink',
    queueName: next.queues.sink,
    data: { payloadBytes: bytes, fromChildren: true, sink: true } satisfies PeerJobData,
    opts: { ...ROOT_OPTS, jobId: next.sinkJobId },
    children: Array.from({ length: next.branches }, () => ({
      name: 'fn',
      queueName: next.queues.fn,
      data: { payloadBytes: bytes, fromChildren: false, input, sink: false } satisfies PeerJobData,
      opts: CHILD_OPTS,
    })),
  };
}
