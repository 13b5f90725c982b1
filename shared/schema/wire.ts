/**
 * Wire types between master and workers (TypeBox schemas; the TS types are derived from them).
 * These are contracts (docs/design.md §4): change them only in backwards-compatible ways.
 */
import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, MAX_LABELS } from '../labels.js';
import { Kind, Type, TypeRegistry, type Static } from '@sinclair/typebox';
import type { WorkflowDag } from '../dag/types.js';
import type { InvocationId } from '../ids.js';
import { QUALIFIED_WORKFLOW_PATTERN } from '../tenancy.js';

export const Id = Type.String({ minLength: 1, maxLength: 128 });

/**
 * An invocation id where it travels: the schema checks it as an `Id` (a producer's ids stay
 * accepted), and what passed the check is typed as the branded `InvocationId`, so a node or
 * worker id can never be handed on in its place.
 */
export const InvocationIdField = Type.Unsafe<InvocationId>(Id);

/** Where a stored value lives. `inline` carries it (base64 of the encoded value). */
export const StoredRef = Type.Union([
  Type.Object({
    tier: Type.Literal('inline'),
    data: Type.String(),
    sizeBytes: Type.Integer({ minimum: 0 }),
  }),
  Type.Object({
    tier: Type.Literal('memory'),
    key: Type.String(),
    worker: Id,
    sizeBytes: Type.Integer({ minimum: 0 }),
  }),
  Type.Object({
    tier: Type.Literal('redis'),
    key: Type.String(),
    sizeBytes: Type.Integer({ minimum: 0 }),
    worker: Type.Optional(Id),
  }),
  Type.Object({
    tier: Type.Literal('peer'),
    key: Type.String(),
    worker: Id,
    url: Type.String(),
    sizeBytes: Type.Integer({ minimum: 0 }),
  }),
]);
export type StoredRef = Static<typeof StoredRef>;

/** Which worker runs each partition group of one invocation, and how to reach it. */
export const Placement = Type.Object({
  /** Worker id per group index. */
  groups: Type.Array(Id),
  /** Base URL per worker id. */
  workers: Type.Record(Type.String(), Type.String()),
  /**
   * Raised by the master each time it re-places groups of a running invocation (a worker died
   * or drained); a worker that sees a higher epoch than it holds adopts the newer placement.
   * Absent: 0.
   */
  epoch: Type.Optional(Type.Integer({ minimum: 0 })),
  /**
   * Base URL of the worker that took the invocation on its own API (docs/design.md §4): steps,
   * sinks and failures are reported there instead of to the master. Absent: the master
   * coordinates. It travels with the placement so that a master adopting the invocation of a
   * dead ingress worker re-routes the reports by raising the epoch without it.
   */
  coordinator: Type.Optional(Type.String()),
});
export type Placement = Static<typeof Placement>;

export const DispatchMode = Type.Union([Type.Literal('worker'), Type.Literal('master')]);
export type DispatchMode = Static<typeof DispatchMode>;

/**
 * How much of an invocation is journaled (docs/durability.md). `none`: nothing, a lost worker
 * fails its invocations; `checkpoint`: every output that leaves a worker (and every sink and
 * failure) is committed to the journal before it leaves, so a lost worker's groups are re-run
 * elsewhere from the last commits; `strict`: every node's output is stored durably and
 * committed, so nothing that finished is ever run again.
 */
export const Durability = Type.Union([
  Type.Literal('none'),
  Type.Literal('checkpoint'),
  Type.Literal('strict'),
]);
export type Durability = Static<typeof Durability>;

/**
 * What a function runs with — the one allocation type of the project: harvesting's decisions
 * (user, predicted, applied), the sandboxes' limits and the worker's live rebalancing all use it.
 */
export const Allocation = Type.Object({
  /** Cores; fractions allowed (0.5 = half a core of CFS quota, and a CPU weight to match). */
  cpu: Type.Number({ minimum: 0 }),
  memoryMb: Type.Number({ minimum: 0 }),
  /**
   * Harvesting's memory safeguard, set by the worker only: the hard limit (`memory.max`, v1
   * `memory.limit_in_bytes`), the user's allocation, while `memoryMb` is the soft one
   * (`memory.high`, v1 `memory.soft_limit_in_bytes`) at the harvested size — a run that needs
   * more than predicted is slowed by reclaim instead of OOM-killed. Absent: `memoryMb` is the
   * hard limit.
   */
  memoryMaxMb: Type.Optional(Type.Number({ minimum: 0 })),
});
export type Allocation = Static<typeof Allocation>;

/**
 * Harvesting's decision for one task node, made by the master at invocation start: what the
 * user declared, what the models predicted (null without a usable prediction), and what the
 * worker applies to the sandbox. `stage` names the node's parallel stage; siblings of a stage
 * on one worker may trade CPU while they run (live rebalancing) within Σ of their `user` cpu.
 */
export const NodeAllocation = Type.Object({
  stage: Type.String(),
  user: Allocation,
  predicted: Type.Union([Allocation, Type.Null()]),
  applied: Allocation,
  /** Why the user's allocation was kept (a reason code: no-model, over-total, …). */
  reason: Type.Optional(Type.String()),
  /** The predicted CPU time its CPU share was sized by (`work` policy); arms the safeguard. */
  workCpuMs: Type.Optional(Type.Number({ minimum: 0 })),
  /**
   * Profiling: run after the stage's earlier serial siblings on this worker have finished, so
   * its profile is not its siblings' contention.
   */
  serial: Type.Optional(Type.Boolean()),
});
export type NodeAllocation = Static<typeof NodeAllocation>;

export const InvocationContext = Type.Object({
  /** The tenant the invocation's workflow belongs to (shared/tenancy.ts). */
  tenant: Type.String(),
  /** The tenant's end user the invocation is for, when its caller named one. */
  subTenant: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' })),
  /** Epoch ms after which the invocation has timed out. */
  deadline: Type.Number(),
  /** The invocation input. */
  input: StoredRef,
  /** Base URL of the master, where completions are reported. */
  master: Type.String(),
  /** `worker`: workers trigger each other (WorkerSP); `master`: every trigger goes through the master (MasterSP). */
  mode: DispatchMode,
  /** Resource harvesting: the master's allocation decision per task node (absent when off). */
  harvest: Type.Optional(Type.Record(Type.String(), NodeAllocation)),
  /** The invocation's durability mode (absent: `none`). */
  durability: Type.Optional(Durability),
  /**
   * Tracing: the W3C `traceparent` of the invocation's root span, the parent of every node span
   * (shared/tracing.ts). Absent when tracing is off or the invocation is not sampled.
   */
  traceparent: Type.Optional(Type.String({ maxLength: 55 })),
});
export type InvocationContext = Static<typeof InvocationContext>;

export const WireErrorSchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Unknown()),
});

export const StorageTier = Type.Union([
  Type.Literal('none'),
  Type.Literal('inline'),
  Type.Literal('memory'),
  Type.Literal('redis'),
  Type.Literal('peer'),
]);

/**
 * A measurement that may be unmeasurable. A type list, not a union: Fastify's Ajv coerces types,
 * and with `anyOf: [number, null]` it turns null into 0 in the first branch — an unmeasured run
 * would read as one that used nothing.
 */
const MEASURED_KIND = 'FaasflowMeasured';
// The channels check bodies with TypeBox's compiler, which knows a custom kind only once
// registered; Ajv (the HTTP routes) reads the plain `type` list and never coerces null to 0.
if (!TypeRegistry.Has(MEASURED_KIND))
  TypeRegistry.Set(
    MEASURED_KIND,
    (_schema, value) => value === null || (typeof value === 'number' && Number.isFinite(value)),
  );
const Measured = Type.Unsafe<number | null>({ [Kind]: MEASURED_KIND, type: ['number', 'null'] });

/** One shard of a sharded foreach as its step shows it (docs/guides/sharding.md). */
export const ShardRunRecord = Type.Object({
  shard: Type.Integer({ minimum: 0 }),
  worker: Type.String(),
  /** Items it ran (its results were merged). */
  items: Type.Integer({ minimum: 0 }),
  batches: Type.Integer({ minimum: 0 }),
  /** It failed or became unreachable: its outstanding batches went back to the queue. */
  lost: Type.Optional(Type.Boolean()),
  /** Why it was lost. */
  error: Type.Optional(Type.String()),
});
export type ShardRunRecord = Static<typeof ShardRunRecord>;

/** A sharded foreach's plan and outcome: the estimate set against what happened. */
export const ShardPlanRecord = Type.Object({
  items: Type.Integer({ minimum: 0 }),
  /** Shards the score chose (1: ran unsharded). */
  planned: Type.Integer({ minimum: 1 }),
  predictedMs: Type.Number({ minimum: 0 }),
  predictedSpeedup: Type.Number({ minimum: 0 }),
  demandSource: Type.String(),
  reason: Type.String(),
  actualMs: Type.Number({ minimum: 0 }),
  shards: Type.Array(ShardRunRecord),
});
export type ShardPlanRecord = Static<typeof ShardPlanRecord>;

/** One node execution as the invocation timeline shows it. */
export const StepRecord = Type.Object({
  node: Type.String(),
  worker: Type.String(),
  status: Type.Union([Type.Literal('succeeded'), Type.Literal('skipped'), Type.Literal('failed')]),
  kind: Type.String(),
  attempts: Type.Integer({ minimum: 0 }),
  /** Epoch ms when the last parent edge arrived (the node became ready). */
  readyAt: Type.Number(),
  startedAt: Type.Number(),
  finishedAt: Type.Number(),
  /** ready → running: waiting for a sandbox slot. */
  queueMs: Type.Number(),
  cold: Type.Boolean(),
  inputBytes: Type.Integer({ minimum: 0 }),
  outputBytes: Type.Integer({ minimum: 0 }),
  /** Where the output went. */
  tier: StorageTier,
  /** Foreach: how many items ran. */
  items: Type.Optional(Type.Integer({ minimum: 0 })),
  /** The allocation the run had (after harvesting's decision when it is on). */
  allocation: Type.Optional(Allocation),
  /** Harvesting: the node's decision (user, predicted, applied, stage), when it is on. */
  harvest: Type.Optional(NodeAllocation),
  /** Peak memory of the sandbox during the run, MB, page cache excluded; null without cgroups. */
  peakMemoryMb: Type.Optional(Measured),
  /** Peak CPU use, cores, sampled from the sandbox's cgroup; null without cgroups. */
  peakCpuCores: Type.Optional(Measured),
  cpuTimeMs: Type.Optional(Measured),
  /** Time the run was held back by its CPU quota (cgroup `cpu.stat`); null when unreadable. */
  throttledMs: Type.Optional(Measured),
  /** Time its tasks waited for a CPU (cgroup v2 `cpu.pressure`); null elsewhere. */
  pressureMs: Type.Optional(Measured),
  /** Harvesting: ms into the run when the CPU safeguard raised its quota to the user's. */
  safeguardAtMs: Type.Optional(Type.Number({ minimum: 0 })),
  /** Tasks: the tier the function ran in (docs/guides/sandboxes.md). */
  isolation: Type.Optional(
    Type.Union([
      Type.Literal('process'),
      Type.Literal('docker'),
      Type.Literal('thread'),
      Type.Literal('trusted'),
    ]),
  ),
  /** Tasks: the handler's run as the worker saw it (request sent → result), last attempt. */
  runMs: Type.Optional(Type.Number({ minimum: 0 })),
  /**
   * Joins: inputs held on other workers that were fetched while the node waited for its last
   * parent, before it became ready (docs/guides/chains.md).
   */
  prefetched: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Tasks: the run found a sandbox prepared ahead for it (docs/guides/chains.md). */
  prepared: Type.Optional(Type.Boolean()),
  /** Tasks: the sandbox start of a cold run (child or container up, handler loaded), ms. */
  initMs: Type.Optional(Type.Number({ minimum: 0 })),
  /** Fetching the node's input from FaaStore (every tier, decode included). */
  getMs: Type.Optional(Type.Number({ minimum: 0 })),
  /** Storing the node's output in FaaStore. */
  putMs: Type.Optional(Type.Number({ minimum: 0 })),
  /** Committing the node's outcome to the journal before it left the worker (durability). */
  commitMs: Type.Optional(Type.Number({ minimum: 0 })),
  error: Type.Optional(WireErrorSchema),
  /** Sharded foreach body steps: the shard that ran the item (0: the owner's). */
  shard: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Sharded foreach: the plan (estimate) and what each shard actually ran. */
  shardPlan: Type.Optional(ShardPlanRecord),
  /**
   * Keyed function (docs/guides/sharding.md): the range of the call's key, the routing table's
   * version, the replica that ran it, and `fallback` when that replica could not be reached and
   * the node's own worker ran it.
   */
  keyed: Type.Optional(
    Type.Object({
      range: Type.Integer({ minimum: 0 }),
      version: Type.Integer({ minimum: 1 }),
      worker: Type.String(),
      fallback: Type.Optional(Type.Boolean()),
    }),
  ),
});
export type StepRecord = Static<typeof StepRecord>;

/** Most steps a trigger carries for its receiver to report (more are reported directly). */
export const MAX_PIGGYBACK_STEPS = 64;

/**
 * One parent edge arriving at a node (or, with `from: null`, the start of a source node).
 * Exactly one of `ref` (the parent's output) or `skip: true`.
 */
export const Trigger = Type.Object({
  invocationId: InvocationIdField,
  workflow: Type.String(),
  version: Type.Integer({ minimum: 1 }),
  node: Type.String(),
  from: Type.Union([Type.String(), Type.Null()]),
  ref: Type.Optional(StoredRef),
  skip: Type.Optional(Type.Boolean()),
  placement: Placement,
  ctx: InvocationContext,
  /**
   * Steps the sending worker ran for this invocation and has not reported yet: they ride along
   * with the work, and the receiver reports them with its own (one message per hand-off less).
   */
  steps: Type.Optional(Type.Array(StepRecord, { maxItems: MAX_PIGGYBACK_STEPS })),
});
export type Trigger = Static<typeof Trigger>;

export const TriggerBatch = Type.Object({
  triggers: Type.Array(Trigger, { minItems: 1, maxItems: 10_000 }),
});
export type TriggerBatch = Static<typeof TriggerBatch>;

/** Worker → master, batched. */
export const Report = Type.Union([
  Type.Object({ kind: Type.Literal('step'), invocationId: InvocationIdField, step: StepRecord }),
  Type.Object({
    kind: Type.Literal('sink'),
    invocationId: InvocationIdField,
    node: Type.String(),
    skipped: Type.Boolean(),
    output: Type.Optional(StoredRef),
  }),
  Type.Object({
    kind: Type.Literal('failed'),
    invocationId: InvocationIdField,
    node: Type.String(),
    error: WireErrorSchema,
  }),
]);
export type Report = Static<typeof Report>;

export const ReportBatch = Type.Object({ reports: Type.Array(Report, { minItems: 1 }) });
export type ReportBatch = Static<typeof ReportBatch>;

export const Capacity = Type.Object({
  cpu: Type.Number({ minimum: 0 }),
  memoryMb: Type.Number({ minimum: 0 }),
});
export type Capacity = Static<typeof Capacity>;

/** Keyed sharding (shared/schema/keyed.ts): a routing table of hash ranges and replicas. */
export const KeyRangeSchema = Type.Object({
  id: Type.Integer({ minimum: 0 }),
  start: Type.Integer({ minimum: 0 }),
  end: Type.Integer({ minimum: 1 }),
  replicas: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 64 }),
});

export const RoutingTableSchema = Type.Object({
  fn: Type.String({ minLength: 1 }),
  version: Type.Integer({ minimum: 1 }),
  ranges: Type.Array(KeyRangeSchema, { minItems: 1, maxItems: 1024 }),
  nextId: Type.Integer({ minimum: 1 }),
});

/** One keyed function's table as the view carries it. */
export const ViewRouting = Type.Object({
  workflow: Type.String({ minLength: 1 }),
  table: RoutingTableSchema,
});
export type ViewRouting = Static<typeof ViewRouting>;

/** What one worker ran of one range since its last heartbeat. */
export const KeyedRangeLoad = Type.Object({
  workflow: Type.String({ minLength: 1 }),
  fn: Type.String({ minLength: 1 }),
  /** The table version the calls were routed by. */
  version: Type.Integer({ minimum: 1 }),
  range: Type.Integer({ minimum: 0 }),
  calls: Type.Integer({ minimum: 0 }),
  /** Handler time of the calls, ms (the load unit of the control loop). */
  busyMs: Type.Number({ minimum: 0 }),
  /** Distinct keys seen. */
  keys: Type.Integer({ minimum: 0 }),
  /** Hash below which half the busy time fell. */
  medianHash: Type.Integer({ minimum: 0 }),
  /** Share of the busy time from the busiest key, 0..1. */
  topKeyShare: Type.Number({ minimum: 0, maximum: 1 }),
});
export type KeyedRangeLoad = Static<typeof KeyedRangeLoad>;

export const WorkerLoad = Type.Object({
  running: Type.Integer({ minimum: 0 }),
  queued: Type.Integer({ minimum: 0 }),
  invocations: Type.Integer({ minimum: 0 }),
  memoryBytes: Type.Integer({ minimum: 0 }),
  /**
   * CPU time of the worker and its sandboxes over the last heartbeat interval ÷ (interval × the
   * cores it offers), 0..1 or more when it uses more than it offers; absent when unmeasured.
   */
  utilization: Type.Optional(Type.Number({ minimum: 0 })),
  /** Keyed sharding: what it ran of each range since its last heartbeat. */
  keyed: Type.Optional(Type.Array(KeyedRangeLoad, { maxItems: 10_000 })),
});
export type WorkerLoad = Static<typeof WorkerLoad>;

/** A worker's labels (shared/labels.ts): key → value (`true` for a bare label). */
const WorkerLabels = Type.Record(
  Type.String({ pattern: LABEL_KEY_PATTERN }),
  Type.String({ pattern: LABEL_VALUE_PATTERN }),
  { maxProperties: MAX_LABELS },
);

export const Registration = Type.Object({
  id: Id,
  url: Type.String({ minLength: 1 }),
  capacity: Capacity,
  runtime: Type.Union([Type.Literal('process'), Type.Literal('docker')]),
  version: Type.String(),
  /** The worker can write the invocation journal (it has Redis); absent: false. */
  journal: Type.Optional(Type.Boolean()),
  /** Its labels (`--labels zone=eu-1,near=db`; shared/labels.ts); absent: none. */
  labels: Type.Optional(WorkerLabels),
});
export type Registration = Static<typeof Registration>;

export const Heartbeat = Type.Object({ load: WorkerLoad });
export type Heartbeat = Static<typeof Heartbeat>;

/** Master → worker: a workflow version to hold. `dag` is checked with `checkDag` on arrival. */
/** Workflow names (master/workflow/limits.ts checks them at upload; workers check them again). */
export const WORKFLOW_NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';
/** A workflow as the cluster knows it: qualified by its tenant (`<tenant>.<name>`, shared/tenancy.ts). */
export const WorkflowName = Type.String({ pattern: QUALIFIED_WORKFLOW_PATTERN });
/**
 * What workers hold: a (qualified) workflow, or variant i ≥ 1 of one as `<name>~<i>`
 * (master/compose/variants.ts).
 */
export const DEPLOYMENT_NAME_PATTERN = `${QUALIFIED_WORKFLOW_PATTERN.slice(0, -1)}(?:~[1-9][0-9]{0,2})?$`;
export const DeploymentName = Type.String({ pattern: DEPLOYMENT_NAME_PATTERN });

export const Deployment = Type.Object({
  workflow: DeploymentName,
  version: Type.Integer({ minimum: 1 }),
  dag: Type.Unsafe<WorkflowDag>(Type.Object({}, { additionalProperties: true })),
  /** Partition group per node id (index into the placement's `groups`). */
  groupOf: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
  /** Handler files, base64, by the relative path the catalogue names. */
  files: Type.Record(Type.String(), Type.String()),
});
export type Deployment = Static<typeof Deployment>;

/** One worker as the placement view shows it. */
export const ViewWorker = Type.Object({
  id: Id,
  url: Type.String({ minLength: 1 }),
  capacity: Capacity,
  /** `draining`: stopping; keeps its work, gets no new groups. */
  status: Type.Union([Type.Literal('ready'), Type.Literal('draining')]),
  /** Nodes running and queued there, plus groups in flight, as the master last counted. */
  load: Type.Integer({ minimum: 0 }),
  /** It can write the invocation journal. */
  journal: Type.Boolean(),
  /**
   * Its measured utilisation stayed over the hot threshold (docs/guides/sharding.md §hot
   * workers): it gets no new group while a cool worker can take it, and no remote foreach shard.
   */
  hot: Type.Optional(Type.Boolean()),
  /** Its labels: groups go where the most of what their functions use matches. */
  labels: Type.Optional(WorkerLabels),
  /** The workflow versions it holds, `name@version`. */
  holds: Type.Array(Type.String()),
});
export type ViewWorker = Static<typeof ViewWorker>;

/**
 * Master → every worker, on every change of membership or deployments and every
 * `viewIntervalMs`: what a worker needs to take invocations on its own API and place their
 * groups itself (docs/design.md §4, "Ingress on every worker").
 */
/** One axis of the allocation grid (shared/harvest/types.ts `AllocationAxis`). */
const AllocationAxisSchema = Type.Object({
  min: Type.Number({ exclusiveMinimum: 0 }),
  max: Type.Number({ exclusiveMinimum: 0 }),
  step: Type.Number({ exclusiveMinimum: 0 }),
});

export const PlacementView = Type.Object({
  /** Raised by the master on every view it sends; a worker keeps the newest. */
  seq: Type.Integer({ minimum: 0 }),
  /** Base URL of the master (records, idempotency keys). */
  master: Type.String({ pattern: '^https?://\\S+$' }),
  mode: DispatchMode,
  strategy: Type.Union([
    Type.Literal('greedy-jsq'),
    Type.Literal('jsq'),
    Type.Literal('round-robin'),
    Type.Literal('hash'),
    Type.Literal('composition-jsq'),
  ]),
  /** The cluster's default durability. */
  durability: Type.Union([Durability, Type.Literal('auto')]),
  /** The master has the journal (durable invocations are possible). */
  journal: Type.Boolean(),
  /**
   * The client API requires API keys (docs/guides/tenants.md). The worker ingress does not
   * check keys yet, so it refuses invocations while this is on; absent: off.
   */
  auth: Type.Optional(Type.Boolean()),
  /** Harvesting is on at the master: an ingress worker decides each invocation's allocations. */
  harvest: Type.Boolean(),
  /**
   * With harvesting on: the version of each workflow's model set the master holds (a worker
   * fetches one it lacks from `GET /v1/internal/models/:workflow`, off the path), and how
   * decisions are made (grid and CPU policy), so an ingress decides as the master would.
   */
  models: Type.Optional(Type.Record(Type.String(), Type.Integer({ minimum: 0 }))),
  harvestPolicy: Type.Optional(
    Type.Object({
      grid: Type.Object({ cpu: AllocationAxisSchema, memoryMb: AllocationAxisSchema }),
      cpuPolicy: Type.Union([Type.Literal('work'), Type.Literal('peak'), Type.Literal('user')]),
    }),
  ),
  defaultTimeoutMs: Type.Integer({ minimum: 1 }),
  maxTimeoutMs: Type.Integer({ minimum: 1 }),
  tenant: Type.String(),
  /** How often the master pushes a view; a worker whose view is 5× older stops taking invocations. */
  intervalMs: Type.Integer({ minimum: 1 }),
  /** Ready and draining workers, by id. */
  workers: Type.Array(ViewWorker),
  /** Keyed sharding: the routing table of every keyed function (docs/guides/sharding.md). */
  routing: Type.Optional(Type.Array(ViewRouting)),
});
export type PlacementView = Static<typeof PlacementView>;

/**
 * Channels (docs/design.md §4, "Channels"): a trigger batch carries each invocation's context
 * (ctx and placement) once per connection; later triggers of that invocation on the same
 * connection leave it out and the receiver restores it.
 */
export const ChannelContext = Type.Object({
  invocationId: InvocationIdField,
  ctx: InvocationContext,
  placement: Placement,
});
export type ChannelContext = Static<typeof ChannelContext>;

export const ChannelTrigger = Type.Omit(Trigger, ['ctx', 'placement']);
export type ChannelTrigger = Static<typeof ChannelTrigger>;

export const ChannelTriggerBatch = Type.Object({
  contexts: Type.Optional(Type.Array(ChannelContext, { maxItems: 10_000 })),
  triggers: Type.Array(ChannelTrigger, { minItems: 1, maxItems: 10_000 }),
});
export type ChannelTriggerBatch = Static<typeof ChannelTriggerBatch>;

/** The receiver's answer: invocations whose context it does not hold (sent again in full). */
export const ChannelTriggerAck = Type.Object({
  accepted: Type.Integer({ minimum: 0 }),
  missing: Type.Optional(Type.Array(InvocationIdField)),
});
export type ChannelTriggerAck = Static<typeof ChannelTriggerAck>;
