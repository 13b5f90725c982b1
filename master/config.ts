/** Master configuration: flags > FAASFLOW_* environment > defaults. */
import { Type, type Static } from '@sinclair/typebox';
import { envFor, loadConfig, type RawConfig } from '../shared/config.js';
import { AppError } from '../shared/errors.js';

export const MasterConfigSchema = Type.Object({
  host: Type.String({ default: '127.0.0.1' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  /** URL workers use to reach the master. Default: http://host:port. */
  advertiseUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** `worker`: WorkerSP (workers trigger each other); `master`: MasterSP baseline. */
  mode: Type.Union([Type.Literal('worker'), Type.Literal('master')], { default: 'worker' }),
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
      default: 'greedy-jsq',
    },
  ),
  /** Largest request body (workflow uploads, invocation inputs). */
  bodyLimitBytes: Type.Integer({ minimum: 1024, default: 32 * 1024 * 1024 }),
  /** Invocation inputs up to this size travel inside triggers; larger ones are served by the master. */
  inlineMaxBytes: Type.Integer({ minimum: 0, maximum: 1_048_576, default: 4096 }),
  /** Default and largest invocation timeout. */
  defaultTimeoutMs: Type.Integer({ minimum: 1, default: 60_000 }),
  maxTimeoutMs: Type.Integer({ minimum: 1, default: 3_600_000 }),
  /** A worker missing heartbeats for this long is marked dead. */
  workerTimeoutMs: Type.Integer({ minimum: 100, default: 5_000 }),
  /** Finished invocations kept for GET /v1/invocations/:id. */
  retainInvocations: Type.Integer({ minimum: 1, default: 10_000 }),
  /** Shared cluster token; when set, workers must send it and the master sends it to workers. */
  token: Type.Optional(Type.String({ minLength: 8 })),
  /** Partitioning: bandwidth assumed between workers, bytes/s. */
  bandwidthBytesPerSec: Type.Number({ minimum: 1, default: 6_250_000 }),
  /**
   * Partitioning: CPU a group may declare on one topological level, as a multiple of the
   * smallest worker's cores. CPU is compressible (siblings share cores and run slower), memory
   * is not (it is never overcommitted); 1 keeps every level within the cores.
   */
  cpuOvercommit: Type.Number({ minimum: 1, maximum: 64, default: 4 }),
  /**
   * Redis the master keeps harvesting's profiles and models in (README, Resource harvesting). Required
   * when `harvest` is on; the master uses Redis for nothing else.
   */
  redisUrl: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  /** Prefix of the master's Redis keys; harvesting's live under `<prefix>h:`. */
  redisPrefix: Type.String({ default: 'ff:' }),
  /**
   * Resource harvesting: `on` records a profile of every function run, trains the models in the
   * background and decides each task node's allocation at invocation start; `off` does none of
   * it (no profiles, no decisions, nothing on the invocation path).
   */
  harvest: Type.Union([Type.Literal('off'), Type.Literal('on')], { default: 'off' }),
  /** Harvesting: new profile records of a workflow that trigger a background retrain. */
  retrainEvery: Type.Integer({ minimum: 1, default: 20 }),
  /** Harvesting: profile records kept per workflow (the oldest are dropped). */
  profileLimit: Type.Integer({ minimum: 10, maximum: 10_000_000, default: 10_000 }),
  /**
   * Harvesting: the most recent profile records a training uses. Training time grows faster
   * than linearly with it (about 0.5 s for 200 records, 12 s for 2,000 on one core, in a
   * background thread); the models keep learning from new runs either way.
   */
  trainLimit: Type.Integer({ minimum: 10, maximum: 100_000, default: 2_000 }),
  /**
   * Harvesting: the allocation grid. `fine` (default): 0.05-core and 64 MB steps from 0.05 core
   * and 64 MB; `thesis`: whole cores and 128 MB steps from 1 core and 128 MB (Fotouhi 2024).
   * The step and minimum options below override the chosen grid's.
   */
  harvestGrid: Type.Union([Type.Literal('fine'), Type.Literal('thesis')], { default: 'fine' }),
  /** Harvesting: CPU step of the grid, cores (0.05 = 50 millicores). */
  harvestCpuStep: Type.Optional(Type.Number({ minimum: 0.001, maximum: 8 })),
  /** Harvesting: smallest CPU allocation, cores (rounded up to a multiple of the step). */
  harvestCpuMin: Type.Optional(Type.Number({ minimum: 0.001, maximum: 8 })),
  /** Harvesting: memory step of the grid, MB. */
  harvestMemoryStepMb: Type.Optional(Type.Integer({ minimum: 1, maximum: 8192 })),
  /** Harvesting: smallest memory allocation, MB (rounded up to a multiple of the step). */
  harvestMemoryMinMb: Type.Optional(Type.Integer({ minimum: 1, maximum: 8192 })),
  /**
   * Harvesting: how a parallel stage's CPU is shared. `work` (default): in proportion to each
   * sibling's predicted CPU time, each capped at the cores it can use; `peak`: the thesis's
   * rule, each sibling its predicted peak cores, scaled down when they exceed the stage's total;
   * `user`: every sibling keeps its user's CPU (memory is still harvested), so only the workers'
   * live rebalancing moves CPU.
   */
  harvestPolicy: Type.Union([Type.Literal('work'), Type.Literal('peak'), Type.Literal('user')], {
    default: 'work',
  }),
  /**
   * Harvesting: freeze the models — runs of ordinary invocations record no profiles and trigger
   * no retraining (profiling invocations still record). For measurements that must not move
   * the models they measure.
   */
  freezeModels: Type.Boolean({ default: false }),
  /**
   * Harvesting: profiling invocations run the siblings of a parallel stage one at a time on
   * their worker (`serial`, default), so a profile is the function's demand and not its
   * siblings' contention; `parallel` runs them together, as the thesis did.
   */
  profileSiblings: Type.Union([Type.Literal('serial'), Type.Literal('parallel')], {
    default: 'serial',
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
  return config;
}
