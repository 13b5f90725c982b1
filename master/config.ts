/** Master configuration: flags > FAASFLOW_* environment > defaults. */
import { Type, type Static } from '@sinclair/typebox';
import { envFor, loadConfig, type RawConfig } from '../shared/config.js';

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
});

export type MasterConfig = Static<typeof MasterConfigSchema>;

export function loadMasterConfig(
  flags: RawConfig = {},
  env: NodeJS.ProcessEnv = process.env,
): MasterConfig {
  return loadConfig(MasterConfigSchema, envFor(MasterConfigSchema, env), flags);
}
