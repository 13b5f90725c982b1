/**
 * The API's answers as the dashboard reads them. Type-only imports of the server's own types,
 * so a field renamed on the server breaks the dashboard's typecheck instead of its pages.
 */
import type { WorkflowDag } from '../../shared/dag/types.js';
import type { WireError } from '../../shared/errors.js';
import type { Capacity, StepRecord, WorkerLoad } from '../../shared/schema/wire.js';
import type { ModelsView } from '../../master/harvest/harvester.js';
import type { InvocationHarvest, NodeDecision } from '../../shared/harvest/invocation.js';
import type { InvocationPage, InvocationSummary } from '../../master/invocations/list.js';
import type { InvocationStatus } from '../../shared/invocation/record.js';
import type { CompositionDecision } from '../../shared/compose/types.js';
import type { Durability } from '../../shared/schema/wire.js';
export type { CompositionRanking } from '../../shared/schema/composition-api.js';

export type {
  InvocationPage,
  InvocationStatus,
  InvocationSummary,
  ModelsView,
  StepRecord,
  WireError,
  WorkflowDag,
};

export const STATUSES: readonly InvocationStatus[] = [
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
];

/** GET /v1/cluster */
export interface ClusterInfo {
  name: string;
  mode: string;
  placement: string;
  harvest: boolean;
  workers: number;
  workflows: number;
  running: number;
  /** Set when a worker serves the page: its id (the rest is its master's answer). */
  ingress?: string;
}

/** GET /v1/workflows */
export interface WorkflowList {
  workflows: {
    name: string;
    version: number;
    nodes: number;
    edges: number;
    groups: number;
    createdAt: string;
    /** Composed workflows (choose: steps): how many graphs it may run. */
    variants?: number;
  }[];
}

/** GET /v1/workflows/:name */
export interface WorkflowDetail {
  name: string;
  version: number;
  versions: { version: number; createdAt: string }[];
  dag: WorkflowDag;
  groups: string[][];
  localBytes: number;
  totalBytes: number;
  warnings: string[];
  /** Composed workflows: the labels of the graphs it may run. */
  variants?: string[];
}

/** The harvest part of GET /v1/invocations/:id (record.ts harvestView). */
export interface HarvestView extends Omit<InvocationHarvest, 'nodes'> {
  nodes: (NodeDecision & {
    measured: { cpuCores: number | null; memoryMb: number | null } | null;
    runMs?: number;
  })[];
}

/** GET /v1/invocations/:id */
export interface InvocationDetail {
  invocationId: string;
  workflow: string;
  version: number;
  status: InvocationStatus;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number;
  output?: unknown;
  error?: WireError;
  steps: StepRecord[];
  stepsDropped?: number;
  harvest?: HarvestView;
  durability: { mode: Durability; recoveries: number; adoptedFrom?: string };
  composition?: CompositionDecision & { wouldRun?: string };
}

/** GET /v1/workers */
export interface WorkerList {
  workers: {
    id: string;
    url: string;
    status: 'registering' | 'ready' | 'dead';
    runtime: string;
    capacity: Capacity;
    load: WorkerLoad & { inflight: number };
    registeredAt: string;
    lastSeenAt: string;
  }[];
}
