/** Worker configuration: flags > FAASFLOW_* environment > defaults. */
import { Type, type Static } from '@sinclair/typebox';
import { availableParallelism, totalmem } from 'node:os';
import { envFor, loadConfig, type RawConfig } from '../shared/config.js';

export const WorkerConfigSchema = Type.Object({
  /** Unique worker id. Default: `w-<port>-<pid>`, set at start. */
  workerId: Type.Optional(
    Type.String({
      description: 'Unique worker id. Default: w-<port>-<pid>, set at start.',
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$',
    }),
  ),
  /** Address to bind. */
  host: Type.String({ description: 'Address to bind.', default: '127.0.0.1' }),
  /** Port to bind; 0 picks a free one. */
  port: Type.Integer({
    description: 'Port to bind; 0 picks a free one.',
    minimum: 0,
    maximum: 65535,
    default: 0,
  }),
  /** URL other processes use to reach this worker. Default: http://host:port. */
  advertiseUrl: Type.Optional(
    Type.String({
      description: 'URL other processes use to reach this worker. Default: http://host:port.',
      pattern: '^https?://',
    }),
  ),
  /** Base URL of the master. */
  masterUrl: Type.String({
    description: 'Base URL of the master.',
    pattern: '^https?://',
    default: 'http://127.0.0.1:8080',
  }),
  /** Redis for cross-worker objects; without it they are fetched from the producing worker. */
  redisUrl: Type.Optional(
    Type.String({
      description:
        'Redis for cross-worker objects; without it they are fetched from the producing worker.',
      pattern: '^rediss?://',
    }),
  ),
  /** Prefix of every Redis key this worker writes. */
  redisPrefix: Type.String({
    description: 'Prefix of every Redis key this worker writes.',
    default: 'ff:',
  }),
  runtime: Type.Union([Type.Literal('process'), Type.Literal('docker')], {
    description: 'Sandbox of the functions: child processes or Docker containers.',
    default: 'process',
  }),
  /** Cores this worker offers. Default: the machine's. */
  cpu: Type.Number({
    description: "Cores this worker offers. Default: the machine's.",
    minimum: 0.1,
    default: availableParallelism(),
  }),
  /** MB this worker offers. Default: the machine's. */
  memoryMb: Type.Integer({
    description: "MB this worker offers. Default: the machine's.",
    minimum: 128,
    default: Math.floor(totalmem() / 1024 / 1024),
  }),
  /** FaaStore in-memory quota, MB. */
  memoryQuotaMb: Type.Integer({
    description: 'FaaStore in-memory quota, MB.',
    minimum: 1,
    default: 512,
  }),
  /** Values up to this size travel inside triggers. */
  inlineMaxBytes: Type.Integer({
    description: 'Values up to this size travel inside triggers, bytes.',
    minimum: 0,
    maximum: 1_048_576,
    default: 4096,
  }),
  /** Largest request body accepted (trigger batches, deployments with handler files). */
  bodyLimitBytes: Type.Integer({
    description:
      'Largest request body accepted (trigger batches, deployments with handler files), bytes.',
    minimum: 1024,
    default: 64 * 1024 * 1024,
  }),
  heartbeatMs: Type.Integer({
    description: 'Interval of the heartbeats to the master, ms.',
    minimum: 50,
    default: 1000,
  }),
  /** Where deployed handler files are written. Default: a temp folder per worker. */
  dataDir: Type.Optional(
    Type.String({
      description: 'Where deployed handler files are written. Default: a temp folder per worker.',
    }),
  ),
  /**
   * Packages handlers may import (process sandbox): a node_modules folder linked beside the
   * deployed handlers. Default: the node_modules faasflow itself runs from; `none` gives none.
   */
  functionModules: Type.Optional(
    Type.String({
      description:
        'Packages handlers may import (process sandbox): a node_modules folder linked beside the deployed handlers; none gives none. Default: the node_modules faasflow runs from.',
      minLength: 1,
    }),
  ),
  /** Shared cluster token; when set, every request must carry it. */
  token: Type.Optional(
    Type.String({
      description: 'Shared cluster token; when set, every request must carry it.',
      minLength: 8,
    }),
  ),
  /** Warm sandboxes per function at most (process sandbox). */
  maxConcurrencyPerFunction: Type.Integer({
    description: 'Warm sandboxes per function at most (process sandbox).',
    minimum: 1,
    default: 8,
  }),
  /** Idle sandboxes are stopped after this long. */
  idleMs: Type.Integer({
    description: 'Idle sandboxes are stopped after this long, ms.',
    minimum: 1000,
    default: 600_000,
  }),
  /** Docker runtime: the engine's unix socket. Default DOCKER_HOST (unix://…) or /var/run/docker.sock. */
  dockerSocket: Type.Optional(
    Type.String({
      description:
        "Docker runtime: the engine's unix socket. Default: DOCKER_HOST (unix://…) or /var/run/docker.sock.",
      minLength: 1,
    }),
  ),
  /** Docker runtime: image of handler, code and builtin functions (bash deploy/runtime-image/build.sh). */
  runtimeImage: Type.String({
    description:
      'Docker runtime: image of handler, code and builtin functions (bash deploy/runtime-image/build.sh).',
    minLength: 1,
    default: 'faasflow-runtime:latest',
  }),
  /** Docker runtime: containers started per function when it is deployed. */
  prewarm: Type.Integer({
    description: 'Docker runtime: containers started per function when it is deployed.',
    minimum: 0,
    maximum: 64,
    default: 0,
  }),
  /**
   * How often a running sandbox's cgroup is sampled for the run's peak CPU and memory (the
   * profile harvesting learns from), ms; 0 samples only at the start and end of each run.
   */
  profileIntervalMs: Type.Integer({
    description:
      "How often a running sandbox's cgroup is sampled for the run's peak CPU and memory, ms; 0 samples only at the start and end of each run.",
    minimum: 0,
    maximum: 10_000,
    default: 10,
  }),
  /**
   * Live rebalancing: when a task of a harvested parallel stage finishes, its CPU goes to the
   * siblings still running on this worker until the stage ends. `false` keeps every task at its
   * decided allocation (for comparisons).
   */
  rebalance: Type.Boolean({
    description:
      'Live rebalancing: when a task of a harvested parallel stage finishes, its CPU goes to the siblings still running on this worker; false keeps every task at its decided allocation.',
    default: true,
  }),
});

export type WorkerConfig = Static<typeof WorkerConfigSchema>;

export function loadWorkerConfig(
  flags: RawConfig = {},
  env: NodeJS.ProcessEnv = process.env,
): WorkerConfig {
  return loadConfig(WorkerConfigSchema, envFor(WorkerConfigSchema, env), flags);
}
