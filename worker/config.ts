/**
 * Worker configuration: flags > FAASFLOW_* environment > defaults. Each option's `description`
 * is its documentation: docs/reference/configuration.md is generated from it (`npm run docs`).
 * `x-default` describes a default that depends on the machine, so the generated page does not.
 */
import { Type, type Static } from '@sinclair/typebox';
import { availableParallelism, totalmem } from 'node:os';
import { envFor, loadConfig, type RawConfig } from '../shared/config.js';
import { AppError } from '../shared/errors.js';
import { isLoopback } from '../shared/net.js';
import { TlsOptions, tlsProblems } from '../shared/tls.js';

export const WorkerConfigSchema = Type.Object({
  workerId: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$',
      description: 'Unique worker id. Default: `w-<port>-<pid>`, set at start.',
    }),
  ),
  host: Type.String({ default: '127.0.0.1', description: 'Address to bind.' }),
  port: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 0,
    description: 'Port to bind; 0 picks a free one.',
  }),
  advertiseUrl: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description: 'URL other processes use to reach this worker. Default: `http://host:port`.',
    }),
  ),
  masterUrl: Type.String({
    pattern: '^https?://',
    default: 'http://127.0.0.1:8080',
    description: 'Base URL of the master.',
  }),
  redisUrl: Type.Optional(
    Type.String({
      pattern: '^rediss?://',
      description:
        'Redis for cross-worker objects; without it they are fetched from the producing worker (the peer tier).',
    }),
  ),
  redisPrefix: Type.String({
    default: 'ff:',
    description: 'Prefix of every Redis key this worker writes.',
  }),
  runtime: Type.Union([Type.Literal('process'), Type.Literal('docker')], {
    default: 'process',
    description:
      'Sandbox of every function: warm Node child processes, or containers of the Docker engine (falls back to processes when no engine answers).',
  }),
  cpu: Type.Number({
    minimum: 0.1,
    default: availableParallelism(),
    'x-default': "the machine's cores",
    description: 'Cores this worker offers to placement (groups are sized to the smallest worker).',
  }),
  memoryMb: Type.Integer({
    minimum: 128,
    default: Math.floor(totalmem() / 1024 / 1024),
    'x-default': "the machine's memory",
    description: 'MB this worker offers to placement.',
  }),
  memoryQuotaMb: Type.Integer({
    minimum: 1,
    default: 512,
    description: 'FaaStore in-memory quota, MB; objects over it spill to Redis or to disk.',
  }),
  inlineMaxBytes: Type.Integer({
    minimum: 0,
    maximum: 1_048_576,
    default: 4096,
    description: 'Values up to this size travel inside triggers.',
  }),
  sinkInlineMaxBytes: Type.Integer({
    minimum: 0,
    maximum: 16 * 1_048_576,
    default: 65_536,
    description:
      "A sink's output up to this size travels inside its sink report, so the invocation's coordinator (the master or the ingress worker) never fetches it back; 0: every sink output is stored.",
  }),
  bodyLimitBytes: Type.Integer({
    minimum: 1024,
    default: 64 * 1024 * 1024,
    description: 'Largest request body accepted (trigger batches, deployments with handler files).',
  }),
  heartbeatMs: Type.Integer({
    minimum: 50,
    default: 1000,
    description: 'How often the worker sends the master its load.',
  }),
  drainTimeoutMs: Type.Integer({
    minimum: 0,
    default: 10_000,
    description:
      'On SIGTERM, how long running work may take to finish before it is handed back to the master for re-placement, ms (docs/durability.md).',
  }),
  dataDir: Type.Optional(
    Type.String({
      description: 'Where deployed handler files are written. Default: a temp folder per worker.',
    }),
  ),
  functionModules: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Packages handlers may import (process sandbox): a node_modules folder linked beside the deployed handlers. Default: the node_modules faasflow itself runs from; `none` gives none.',
    }),
  ),
  sandboxUser: Type.String({
    default: 'auto',
    minLength: 1,
    description:
      'Who process-sandbox children run as: `auto` (a worker running as root starts them as `nobody`; otherwise as its own user), a user name or `uid:gid`, or `off` (the worker\'s own user). Docs: docs/guides/sandboxes.md, "Confinement".',
  }),
  sandboxNetwork: Type.Union([Type.Literal('auto'), Type.Literal('host')], {
    default: 'auto',
    description:
      'Network of process-sandbox children: `auto` gives each child its own network namespace (no route to any port of this host or beyond) where the kernel allows it, except for functions that declare `network: host`; `host` never does.',
  }),
  token: Type.Optional(
    Type.String({
      minLength: 8,
      description:
        'Shared cluster token; when set, every request must carry it but /healthz, /metrics and those the master judges (the dashboard files and reads; with API keys on, GET /v1/invocations/:id and its cancel).',
    }),
  ),
  /** Internal transport: persistent framed channels (default) or plain HTTP. */
  transport: Type.Union([Type.Literal('channel'), Type.Literal('http')], {
    default: 'channel',
    description:
      'How this process talks to the master and the workers: `channel` opens one persistent framed connection per peer on its HTTP port (HTTP Upgrade, docs/design.md §4) and falls back to HTTP for a peer that refuses it; `http` uses only the internal HTTP routes and accepts no channels.',
  }),
  ...TlsOptions,
  insecure: Type.Boolean({
    default: false,
    description:
      'Let a worker on a non-loopback address start without a cluster token (anyone who reaches it could then trigger functions and read objects). Without it such a worker refuses to start.',
  }),
  maxConcurrencyPerFunction: Type.Integer({
    minimum: 1,
    default: 8,
    description: 'Warm sandboxes per function at most.',
  }),
  idleMs: Type.Integer({
    minimum: 1000,
    default: 600_000,
    description: 'Idle sandboxes are stopped after this long.',
  }),
  dockerSocket: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        "Docker runtime: the engine's unix socket. Default: `DOCKER_HOST` (`unix://…`) or `/var/run/docker.sock`.",
    }),
  ),
  runtimeImage: Type.String({
    minLength: 1,
    default: 'faasflow-runtime:latest',
    description:
      'Docker runtime: image of handler, code and builtin functions (`bash deploy/runtime-image/build.sh`).',
  }),
  prewarm: Type.Integer({
    minimum: 0,
    maximum: 64,
    default: 0,
    description: 'Docker runtime: containers started per function when it is deployed.',
  }),
  profileIntervalMs: Type.Integer({
    minimum: 0,
    maximum: 10_000,
    default: 10,
    description:
      "How often a running sandbox's cgroup is sampled for the run's peak CPU and memory (the profile harvesting learns from), ms; 0 samples only at the start and end of each run.",
  }),
  otelEndpoint: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description:
        "OpenTelemetry: base URL of an OTLP/HTTP collector (e.g. http://127.0.0.1:4318); spans go to <url>/v1/traces in JSON. Default: OTEL_EXPORTER_OTLP_ENDPOINT when set; without either, tracing is off (the api's no-op).",
    }),
  ),
  labels: Type.String({
    default: '',
    description:
      'Labels of this worker, comma-separated `key` or `key=value` (e.g. `zone=eu-1,near=db,gpu`): a function that declares `uses: [near=db]` is placed on the workers matching the most of what it uses (docs/guides/chains.md).',
  }),
  startConcurrency: Type.Integer({
    minimum: 0,
    default: availableParallelism(),
    'x-default': "the machine's cores",
    description:
      "Sandboxes this worker starts at once for runs, and as many again for prepares ahead; the rest wait in line, runs first come first served, prepares by their node's predicted start (docs/guides/chains.md). 0: no limit.",
  }),
  fetchAhead: Type.Boolean({
    default: true,
    description:
      'A join reads each input held on another worker as soon as its edge arrives, while it waits for its other parents, and a task reading such an input has its sandbox started as the read begins (docs/guides/chains.md). `false` reads them all when the join runs, and starts the sandbox after the read (for comparisons).',
  }),
  rebalance: Type.Boolean({
    default: true,
    description:
      'Live rebalancing: when a task of a harvested parallel stage finishes, its CPU goes to the siblings still running on this worker until the stage ends. `false` keeps every task at its decided allocation (for comparisons).',
  }),
});

export type WorkerConfig = Static<typeof WorkerConfigSchema>;

export function loadWorkerConfig(
  flags: RawConfig = {},
  env: NodeJS.ProcessEnv = process.env,
): WorkerConfig {
  const config = loadConfig(WorkerConfigSchema, envFor(WorkerConfigSchema, env), flags);
  const problems = tlsProblems(config);
  if (config.token === undefined && !config.insecure && !isLoopback(config.host))
    problems.push(
      `token: the worker binds ${config.host}, which is not a loopback address, and has no cluster token; give the cluster's --token (FAASFLOW_TOKEN), or --insecure to run open deliberately`,
    );
  if (problems.length > 0)
    throw new AppError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, {
      details: { problems },
    });
  return config;
}
