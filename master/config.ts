/** Master configuration: flags > FAASFLOW_* environment > defaults. */
import { Type, type Static } from '@sinclair/typebox';
import { envFor, loadConfig, type RawConfig } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { isLoopback } from '../shared/net.js';
import { TlsOptions, tlsProblems } from '../shared/tls.js';

export const MasterConfigSchema = Type.Object({
  clusterName: Type.String({
    description: "Shown in the dashboard's header and title, to tell clusters apart.",
    minLength: 1,
    maxLength: 63,
    default: 'faasflow',
  }),
  host: Type.String({ description: 'Address to bind.', default: '127.0.0.1' }),
  port: Type.Integer({
    description: 'Port to listen on; 0 picks a free one.',
    minimum: 0,
    maximum: 65535,
    default: 8080,
  }),
  /** URL workers use to reach the master. Default: http://host:port. */
  advertiseUrl: Type.Optional(
    Type.String({
      description: 'URL workers use to reach the master. Default: http://host:port.',
      pattern: '^https?://',
    }),
  ),
  /** `worker`: WorkerSP (workers trigger each other); `master`: MasterSP baseline. */
  mode: Type.Union([Type.Literal('worker'), Type.Literal('master')], {
    description: 'worker: WorkerSP (workers trigger each other); master: the MasterSP baseline.',
    default: 'worker',
  }),
  /** Placement of partition groups on workers, per invocation. */
  placement: Type.Union(
    [
      Type.Literal('greedy-jsq'),
      Type.Literal('jsq'),
      Type.Literal('round-robin'),
      Type.Literal('hash'),
      Type.Literal('composition-jsq'),
    ],
    {
      description: 'Placement of partition groups on workers, per invocation.',
      default: 'greedy-jsq',
    },
  ),
  /** Largest request body (workflow uploads, invocation inputs). */
  bodyLimitBytes: Type.Integer({
    description: 'Largest request body (workflow uploads, invocation inputs), bytes.',
    minimum: 1024,
    default: 32 * 1024 * 1024,
  }),
  /** Invocation inputs up to this size travel inside triggers; larger ones are served by the master. */
  inlineMaxBytes: Type.Integer({
    description:
      'Invocation inputs up to this size travel inside triggers; larger ones are served by the master. Bytes.',
    minimum: 0,
    maximum: 1_048_576,
    default: 4096,
  }),
  /** Default and largest invocation timeout. */
  defaultTimeoutMs: Type.Integer({
    description: 'Invocation timeout when the caller gives none, ms.',
    minimum: 1,
    default: 60_000,
  }),
  maxTimeoutMs: Type.Integer({
    description: 'Largest invocation timeout a caller may ask for, ms.',
    minimum: 1,
    default: 3_600_000,
  }),
  /** A worker missing heartbeats for this long is marked dead. */
  workerTimeoutMs: Type.Integer({
    description: 'A worker missing heartbeats for this long is marked dead, ms.',
    minimum: 100,
    default: 5_000,
  }),
  /** Whether the keyed re-sharding loop runs (docs/guides/sharding.md §control loop). */
  keyedControl: Type.Boolean({
    description:
      "Run the keyed functions' re-sharding loop about once a second; false keeps every routing table as it was made (static hash routing: what `faasflow bench shard --cluster` compares against). Lost workers are still repaired.",
    default: true,
  }),
  /** How often the placement view is pushed to every worker (and on every change). */
  viewIntervalMs: Type.Integer({
    description:
      "How often the master pushes the placement view (workers, capacity, load, versions) to every worker for the workers' own invocation API, ms; it is also pushed on every change of membership or deployments.",
    minimum: 50,
    default: 1_000,
  }),
  /** Finished invocations kept for GET /v1/invocations/:id. */
  retainInvocations: Type.Integer({
    description: 'Finished invocations kept for GET /v1/invocations/:id.',
    minimum: 1,
    default: 10_000,
  }),
  /** Shared cluster token; when set, workers must send it and the master sends it to workers. */
  token: Type.Optional(
    Type.String({
      description:
        'Shared cluster token; when set, workers must send it and the master sends it to workers.',
      minLength: 8,
    }),
  ),
  /** Internal transport: persistent framed channels (default) or plain HTTP. */
  transport: Type.Union([Type.Literal('channel'), Type.Literal('http')], {
    default: 'channel',
    description:
      'How this process talks to the master and the workers: `channel` opens one persistent framed connection per peer on its HTTP port (HTTP Upgrade, docs/design.md §4) and falls back to HTTP for a peer that refuses it; `http` uses only the internal HTTP routes and accepts no channels.',
  }),
  ...TlsOptions,
  auth: Type.Optional(
    Type.Union([Type.Literal('on'), Type.Literal('off')], {
      description:
        "API keys on the client API (docs/guides/tenants.md). Unset follows Redis's protected mode: off on a loopback host, and on any other host the master refuses to start until told on (or, deliberately, off).",
    }),
  ),
  adminKeyFile: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        "With auth on: the file holding the cluster's admin key; created (mode 0600) with a random key when missing. Default <dataDir>/admin.key.",
    }),
  ),
  privilegedTenants: Type.Optional(
    Type.String({
      description:
        'With auth on: tenants (comma-separated) that may deploy functions outside the sandbox confinement (isolation thread or trusted, network host); the admin key always may. Others get 403 (docs/guides/tenants.md).',
    }),
  ),
  auditLog: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Where audit lines go (tenant and key changes, deploys, deletes, auth failures), one JSON line each: a file path, or unset for the master log.',
    }),
  ),
  tenantMaxConcurrent: Type.Integer({
    minimum: 0,
    default: 0,
    description:
      "Default per-tenant limit of invocations running at once; 0 = none. A tenant's own limits override it.",
  }),
  tenantInvocationsPerSec: Type.Number({
    minimum: 0,
    default: 0,
    description: 'Default per-tenant invocations per second (token bucket refill); 0 = none.',
  }),
  tenantBurst: Type.Integer({
    minimum: 1,
    default: 10,
    description:
      'Default per-tenant token bucket size: invocations that may start at once after a quiet spell.',
  }),
  tenantMaxWorkflowBytes: Type.Integer({
    minimum: 0,
    default: 0,
    description:
      'Default per-tenant largest workflow upload (YAML and handler files), bytes; 0 = none.',
  }),
  tenantMaxVersions: Type.Integer({
    minimum: 0,
    default: 0,
    description:
      'Default per-tenant versions kept per workflow (a deploy beyond it is refused); 0 = none.',
  }),
  /** Partitioning: bandwidth assumed between workers, bytes/s. */
  bandwidthBytesPerSec: Type.Number({
    description: 'Partitioning: bandwidth assumed between workers, bytes/s.',
    minimum: 1,
    default: 6_250_000,
  }),
  /**
   * Partitioning: CPU a group may declare on one topological level, as a multiple of the
   * smallest worker's cores. CPU is compressible (siblings share cores and run slower), memory
   * is not (it is never overcommitted); 1 keeps every level within the cores.
   */
  cpuOvercommit: Type.Number({
    description:
      "Partitioning: CPU a group may declare on one topological level, as a multiple of the smallest worker's cores; 1 keeps every level within the cores.",
    minimum: 1,
    maximum: 64,
    default: 4,
  }),
  /**
   * Redis of the cluster: the invocation journal the master recovers invocations from
   * (docs/durability.md), harvesting's profiles and models, and (with `store` `auto` or `redis`)
   * the master's own state: catalogue, invocation records, idempotency keys (docs/store.md).
   * Required when `harvest` is on or `store` is `redis`. The workers must use the same Redis
   * and `redisPrefix`.
   */
  redisUrl: Type.Optional(
    Type.String({
      description:
        "Redis of the cluster: the invocation journal (docs/durability.md), harvesting's profiles and models, and with store auto or redis the master's own state (docs/store.md). Required when harvest is on or store is redis; the workers must use the same Redis and redisPrefix.",
      pattern: '^rediss?://',
    }),
  ),
  redisPrefix: Type.String({
    description:
      "Prefix of the master's Redis keys: its store's live under <prefix>m:, harvesting's under <prefix>h:, invocation journals under <prefix>j:.",
    default: 'ff:',
  }),
  durability: Type.Union(
    [
      Type.Literal('auto'),
      Type.Literal('none'),
      Type.Literal('checkpoint'),
      Type.Literal('strict'),
    ],
    {
      default: 'auto',
      description:
        "The cluster's default durability (a workflow's durability: overrides it): auto is checkpoint when the master and the workers have Redis (the journal), else none (docs/durability.md).",
    },
  ),
  store: Type.Union(
    [Type.Literal('auto'), Type.Literal('redis'), Type.Literal('lmdb'), Type.Literal('memory')],
    {
      default: 'auto',
      description:
        "Where the master's state persists (docs/store.md): redis (needs redisUrl), lmdb (an embedded database in dataDir), memory (nothing survives the process); auto is redis when redisUrl is set, else lmdb.",
    },
  ),
  dataDir: Type.String({
    minLength: 1,
    default: '.faasflow',
    description:
      "The lmdb store's folder, relative to the working directory; created with mode 0700 and locked by one master at a time.",
  }),
  leaseMs: Type.Integer({
    minimum: 500,
    maximum: 600_000,
    default: 5_000,
    description:
      'With the Redis store, masters sharing that Redis elect one leader through a lease of this length, ms; the others wait as standbys and one takes over within about this long of the leader going silent (docs/durability.md).',
  }),
  dataDirSync: Type.Union([Type.Literal('commit'), Type.Literal('flush')], {
    default: 'commit',
    description:
      'When an lmdb write counts as done: commit once committed to the OS (survives kill -9 of the master; an OS crash may lose the last writes, never corrupts the data dir), flush once fsynced as well (survives an OS crash too, costs an fsync per write).',
  }),
  /**
   * Resource harvesting: `on` records a profile of every function run, trains the models in the
   * background and decides each task node's allocation at invocation start; `off` does none of
   * it (no profiles, no decisions, nothing on the invocation path).
   */
  harvest: Type.Union([Type.Literal('off'), Type.Literal('on')], {
    description:
      "Resource harvesting: on profiles every function run, trains the models in the background and decides each task node's allocation at invocation start; off does none of it.",
    default: 'off',
  }),
  /** Harvesting: new profile records of a workflow that trigger a background retrain. */
  retrainEvery: Type.Integer({
    description: 'Harvesting: new profile records of a workflow that trigger a background retrain.',
    minimum: 1,
    default: 20,
  }),
  /** Harvesting: profile records kept per workflow (the oldest are dropped). */
  profileLimit: Type.Integer({
    description: 'Harvesting: profile records kept per workflow (the oldest are dropped).',
    minimum: 10,
    maximum: 10_000_000,
    default: 10_000,
  }),
  /**
   * Harvesting: the most recent profile records a training uses. Training time grows faster
   * than linearly with it (about 0.5 s for 200 records, 12 s for 2,000 on one core, in a
   * background thread); the models keep learning from new runs either way.
   */
  trainLimit: Type.Integer({
    description:
      'Harvesting: the most recent profile records a training uses; training time grows faster than linearly with it.',
    minimum: 10,
    maximum: 100_000,
    default: 2_000,
  }),
  harvestGrid: Type.Union([Type.Literal('fine'), Type.Literal('thesis')], {
    default: 'fine',
    description:
      "Harvesting: the allocation grid. fine: 0.05-core and 64 MB steps from 0.05 core and 64 MB; thesis: whole cores and 128 MB steps from 1 core and 128 MB (the thesis's). The step and minimum options override the chosen grid's.",
  }),
  harvestCpuStep: Type.Optional(
    Type.Number({
      minimum: 0.001,
      maximum: 8,
      description: 'Harvesting: CPU step of the grid, cores (0.05 = 50 millicores).',
    }),
  ),
  harvestCpuMin: Type.Optional(
    Type.Number({
      minimum: 0.001,
      maximum: 8,
      description:
        'Harvesting: smallest CPU allocation, cores (rounded up to a multiple of the step).',
    }),
  ),
  harvestMemoryStepMb: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 8192,
      description: 'Harvesting: memory step of the grid, MB.',
    }),
  ),
  harvestMemoryMinMb: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 8192,
      description:
        'Harvesting: smallest memory allocation, MB (rounded up to a multiple of the step).',
    }),
  ),
  harvestPolicy: Type.Union([Type.Literal('work'), Type.Literal('peak'), Type.Literal('user')], {
    default: 'work',
    description:
      "Harvesting: how a parallel stage's CPU is shared. work: in proportion to each sibling's predicted CPU time, each capped at the cores it can use; peak: the thesis's rule, each sibling its predicted peak cores, scaled down when over the stage's total; user: every sibling keeps its user's CPU, so only live rebalancing moves CPU.",
  }),
  freezeModels: Type.Boolean({
    default: false,
    description:
      'Harvesting: runs of ordinary invocations record no profiles and trigger no retraining (profiling invocations still record), so measurements do not move the models they measure.',
  }),
  otelEndpoint: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description:
        "OpenTelemetry: base URL of an OTLP/HTTP collector (e.g. http://127.0.0.1:4318); spans go to <url>/v1/traces in JSON. Default: OTEL_EXPORTER_OTLP_ENDPOINT when set; without either, tracing is off (the api's no-op).",
    }),
  ),
  profileSiblings: Type.Union([Type.Literal('serial'), Type.Literal('parallel')], {
    default: 'serial',
    description:
      "Harvesting: profiling invocations run a parallel stage's siblings one at a time on their worker (serial), so a profile is demand and not contention; parallel runs them together, as the thesis did.",
  }),
});

export type MasterConfig = Static<typeof MasterConfigSchema>;

export function loadMasterConfig(
  flags: RawConfig = {},
  env: NodeJS.ProcessEnv = process.env,
): MasterConfig {
  const config = loadConfig(MasterConfigSchema, envFor(MasterConfigSchema, env), flags);
  if (config.harvest === 'on' && config.redisUrl === undefined)
    throw new AppError(
      'CONFIG_INVALID',
      'invalid configuration:\n  harvest: "on" needs redisUrl, where profiles and models persist; pass --redis-url redis://HOST:6379 (FAASFLOW_REDIS_URL) or --harvest off',
      { details: { problems: ['harvest: "on" needs redisUrl (--redis-url redis://HOST:6379)'] } },
    );
  if (config.store === 'redis' && config.redisUrl === undefined)
    throw new AppError(
      'CONFIG_INVALID',
      'invalid configuration:\n  store: "redis" needs redisUrl; pass --redis-url redis://HOST:6379 (FAASFLOW_REDIS_URL), or --store lmdb with --data-dir DIR',
      { details: { problems: ['store: "redis" needs redisUrl (--redis-url redis://HOST:6379)'] } },
    );
  const tls = tlsProblems(config);
  if (tls.length > 0)
    throw new AppError('CONFIG_INVALID', `invalid configuration:\n  ${tls.join('\n  ')}`, {
      details: { problems: tls },
    });
  if (config.auth === undefined && !isLoopback(config.host))
    throw new AppError(
      'CONFIG_INVALID',
      `invalid configuration:\n  auth: the master binds ${config.host}, which is not a loopback address, and auth is not set; pass --auth on (API keys, docs/guides/tenants.md) or, deliberately, --auth off`,
      {
        details: {
          problems: [`auth: must be set (on or off) when host ${config.host} is not loopback`],
        },
      },
    );
  return config;
}

/** Whether API keys are required: `auth`, or by the protected-mode default (checked at load). */
export function authOn(config: Pick<MasterConfig, 'auth'>): boolean {
  return config.auth === 'on';
}
