/**
 * Invocation records as the master's store keeps them (docs/durability.md): the port the
 * invocation manager writes through, an in-memory implementation (a master without a store, and
 * tests), and the conversion between a live record and its stored document.
 *
 * A record is written when it is accepted (before any start trigger leaves, so an accepted
 * invocation survives the master) and when it ends (before its callers hear the result, so the
 * result they hear is the one a restarted master answers).
 */
import type { WireError } from '../../shared/errors.js';
import type {
  InvocationContext,
  Placement,
  StepRecord,
  StoredRef,
} from '../../shared/schema/wire.js';
import type { InvocationHarvest } from '../harvest/invocation.js';
import type { InvocationDoc, MasterStore } from '../store/types.js';
import type { InvocationRecord, InvocationStatus, RecordComposition } from './record.js';
import type { InvocationId } from '../../shared/ids.js';

export type { InvocationDoc };

/** What the manager needs of the master's store (master/store implements all of it). */
export type RecordStore = Pick<
  MasterStore,
  'putInvocation' | 'getInvocation' | 'loadInvocations' | 'trimInvocations' | 'claimIdempotencyKey'
>;

/** Records in this process only: they live as long as the master. */
export class MemoryRecordStore implements RecordStore {
  private readonly docs = new Map<string, InvocationDoc>();
  private readonly keys = new Map<string, { id: InvocationId; until: number }>();

  putInvocation(doc: InvocationDoc): Promise<void> {
    this.docs.set(doc.id, structuredClone(doc));
    return Promise.resolve();
  }

  getInvocation(id: InvocationId): Promise<InvocationDoc | undefined> {
    const d = this.docs.get(id);
    return Promise.resolve(d ? structuredClone(d) : undefined);
  }

  loadInvocations(limit: number): Promise<InvocationDoc[]> {
    const all = [...this.docs.values()];
    const running = all.filter((d) => d.status === 'running');
    const finished = all
      .filter((d) => d.status !== 'running')
      .sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0))
      .slice(0, Math.max(0, limit - running.length));
    return Promise.resolve([...running, ...finished].map((d) => structuredClone(d)));
  }

  trimInvocations(retain: number): Promise<number> {
    const finished = [...this.docs.values()]
      .filter((d) => d.status !== 'running')
      .sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0));
    const drop = finished.slice(retain);
    for (const d of drop) this.docs.delete(d.id);
    return Promise.resolve(drop.length);
  }

  claimIdempotencyKey(
    scopedKey: string,
    invocationId: InvocationId,
    ttlMs: number,
  ): Promise<InvocationId> {
    const now = Date.now();
    const held = this.keys.get(scopedKey);
    if (held && held.until > now) return Promise.resolve(held.id);
    this.keys.set(scopedKey, { id: invocationId, until: now + ttlMs });
    return Promise.resolve(invocationId);
  }
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
    recoveries: r.recoveries,
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
  | 'recoveries'
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
    recoveries: num(d['recoveries']) ? d['recoveries'] : 0,
  };
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

/** The sink outputs a restored record starts from (none reported yet). */
export function emptySinks(sinks: readonly string[]): {
  pendingSinks: Set<string>;
  sinkOutputs: Map<string, StoredRef | null>;
} {
  return { pendingSinks: new Set(sinks), sinkOutputs: new Map() };
}
