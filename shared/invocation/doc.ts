/**
 * An invocation record as a document: what the master's store keeps, what a worker that took an
 * invocation sends the master in its record batches, and what that worker journals before it
 * accepts a durable invocation (so the master can adopt it if the worker dies). Reading one back
 * checks it field by field (a store and the wire are boundaries).
 */
import type { WireError } from '../errors.js';
import type { InvocationId } from '../ids.js';
import type { InvocationHarvest } from '../harvest/types.js';
import type { InvocationContext, Placement, StepRecord } from '../schema/wire.js';
import type {
  InvocationPrewarm,
  InvocationRecord,
  InvocationStatus,
  RecordComposition,
} from './record.js';

export interface InvocationDoc {
  id: InvocationId;
  workflow: string;
  /** `running` docs are the ones a restarted master must recover; any other status is finished. */
  status: string;
  startedAt: number;
  /** Orders finished docs for trimming and loading; a finished doc without it uses `startedAt`. */
  finishedAt?: number;
  [field: string]: unknown;
}

/** The stored form of a record. Large inputs travel along while the invocation runs. */
export function toDoc(r: InvocationRecord, inputData?: Buffer): InvocationDoc {
  return {
    id: r.id,
    workflow: r.workflow,
    version: r.version,
    status: r.status,
    startedAt: r.startedAt,
    ...(r.finishedAt === undefined ? {} : { finishedAt: r.finishedAt }),
    deadline: r.deadline,
    placement: r.placement,
    ctx: r.ctx,
    durability: r.durability,
    ...(r.idempotencyKey === undefined ? {} : { idempotencyKey: r.idempotencyKey }),
    ...(r.inputKey === undefined ? {} : { inputKey: r.inputKey }),
    ...(inputData === undefined ? {} : { inputData: inputData.toString('base64') }),
    ...(r.status === 'succeeded' ? { output: r.output ?? null } : {}),
    ...(r.error === undefined ? {} : { error: r.error }),
    ...(r.status === 'running' ? {} : { steps: r.steps, stepsDropped: r.stepsDropped }),
    ...(r.harvest === undefined ? {} : { harvest: r.harvest }),
    ...(r.subTenant === undefined ? {} : { subTenant: r.subTenant }),
    ...(r.composition === undefined ? {} : { composition: r.composition }),
    ...(r.session === undefined ? {} : { session: r.session }),
    ...(r.prewarm === undefined ? {} : { prewarm: r.prewarm }),
    recoveries: r.recoveries,
    ...(r.adoptedFrom === undefined ? {} : { adoptedFrom: r.adoptedFrom }),
  };
}

/** What a stored document holds, checked field by field (a store is a boundary). */
export type RestoredFields = Pick<
  InvocationRecord,
  | 'id'
  | 'workflow'
  | 'version'
  | 'status'
  | 'startedAt'
  | 'finishedAt'
  | 'deadline'
  | 'placement'
  | 'ctx'
  | 'durability'
  | 'idempotencyKey'
  | 'inputKey'
  | 'output'
  | 'error'
  | 'steps'
  | 'stepsDropped'
  | 'harvest'
  | 'subTenant'
  | 'composition'
  | 'session'
  | 'prewarm'
  | 'recoveries'
  | 'adoptedFrom'
> & { inputData?: Buffer };

const STATUSES: readonly string[] = ['running', 'succeeded', 'failed', 'timed_out', 'cancelled'];

/** The fields of a stored document, or null when it is not one this master wrote. */
export function fromDoc(d: InvocationDoc): RestoredFields | null {
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (!STATUSES.includes(d.status) || !num(d['version']) || !num(d['deadline'])) return null;
  const placement = d['placement'] as Placement | undefined;
  const ctx = d['ctx'] as InvocationContext | undefined;
  if (!placement || !Array.isArray(placement.groups) || !ctx || typeof ctx.input !== 'object')
    return null;
  const durability = d['durability'];
  return {
    id: d.id,
    workflow: d.workflow,
    version: d['version'],
    status: d.status as InvocationStatus,
    startedAt: d.startedAt,
    ...(num(d.finishedAt) ? { finishedAt: d.finishedAt } : {}),
    deadline: d['deadline'],
    placement,
    ctx,
    durability: durability === 'checkpoint' || durability === 'strict' ? durability : 'none',
    ...(typeof d['idempotencyKey'] === 'string' ? { idempotencyKey: d['idempotencyKey'] } : {}),
    ...(typeof d['inputKey'] === 'string' ? { inputKey: d['inputKey'] } : {}),
    ...(typeof d['inputData'] === 'string'
      ? { inputData: Buffer.from(d['inputData'], 'base64') }
      : {}),
    ...('output' in d ? { output: d['output'] } : {}),
    ...(d['error'] !== undefined ? { error: d['error'] as WireError } : {}),
    steps: Array.isArray(d['steps']) ? (d['steps'] as StepRecord[]) : [],
    stepsDropped: num(d['stepsDropped']) ? d['stepsDropped'] : 0,
    ...(d['harvest'] !== undefined ? { harvest: d['harvest'] as InvocationHarvest } : {}),
    ...(typeof d['subTenant'] === 'string' ? { subTenant: d['subTenant'] } : {}),
    ...(isComposition(d['composition']) ? { composition: d['composition'] } : {}),
    ...(typeof d['session'] === 'string' ? { session: d['session'] } : {}),
    ...(isPrewarm(d['prewarm']) ? { prewarm: d['prewarm'] } : {}),
    recoveries: num(d['recoveries']) ? d['recoveries'] : 0,
    ...(typeof d['adoptedFrom'] === 'string' ? { adoptedFrom: d['adoptedFrom'] } : {}),
  };
}

function isPrewarm(v: unknown): v is InvocationPrewarm {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    (p['mode'] === 'off' || p['mode'] === 'eager' || p['mode'] === 'predictive') &&
    Array.isArray(p['nodes']) &&
    Array.isArray(p['switches']) &&
    Array.isArray(p['prepares'])
  );
}

function isComposition(v: unknown): v is RecordComposition {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    typeof c['index'] === 'number' &&
    typeof c['variant'] === 'string' &&
    Array.isArray(c['graph']) &&
    typeof c['propensity'] === 'number'
  );
}
