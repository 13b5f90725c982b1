/**
 * The Docker sandbox: each deployed function gets a warm pool of containers (the process
 * sandbox's FunctionPool) running the runtime server of the runtime image, or the function's own
 * image, one request per container at a time, reached over a unix socket in a bind mount.
 *
 * It owns: the pools, the containers it creates (all labelled with this worker's id), and a private directory for the containers' sockets. On create it
 * removes every container labelled with its worker id (leftovers of a worker that died); on
 * `close()` it removes every container it made, sweeps the label again, and deletes the socket
 * directory. It never retries a failed run: the engine decides.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AppError } from '../../shared/errors.js';
import type { WorkerId } from '../../shared/ids.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { describeCgroupMode, detectCgroupMode, type CgroupMode } from './cgroup.js';
import { DockerClient, type ContainerState } from './docker-client.js';
import { ContainerChild } from './docker-container.js';
import {
  BUILD_COMMAND,
  containerName,
  DEFAULT_RUNTIME_IMAGE,
  functionContainerSpec,
  LABELS,
  planContainer,
  type ContainerPlan,
} from './docker-spec.js';
import { PooledSandbox } from './pooled.js';
import type { Allocation } from '../../shared/schema/wire.js';
import type { FunctionDeployment } from './types.js';
import type { StartGate } from './start-gate.js';

export interface DockerSandboxOptions {
  workerId: WorkerId;
  logger?: Logger;
  /** The engine's unix socket. Default `DOCKER_HOST` (unix://) or /var/run/docker.sock. */
  socketPath?: string;
  /** Deadline of each engine API call. Default 30 000. */
  engineTimeoutMs?: number;
  /** Image of handler, code and builtin functions. Default `faasflow-runtime:latest`. */
  runtimeImage?: string;
  /** Containers per function at most; extra runs queue FIFO. Default 8. */
  maxConcurrencyPerFunction?: number;
  /** Idle containers are removed after this long. Default 600 000 (10 min). */
  idleMs?: number;
  /** Create → handler loaded, at most. Default 10 000. */
  startTimeoutMs?: number;
  /** Containers started per function at deploy, unless `deploy` says otherwise. Default 0. */
  prewarm?: number;
  /**
   * The worker's start gate (start-gate.ts), shared with its other sandboxes: how many containers
   * start at once, runs before prepares. Default: none (every start at once).
   */
  startGate?: StartGate;
  /** Processes and threads per container at most. Default 64. */
  pidsLimit?: number;
  /** Size of the writable /tmp of each container, MB (counted in its memory). Default 64. */
  tmpfsMb?: number;
  /** `auto` (default) resizes through the container's cgroup where writable; `off`: engine only. */
  cgroups?: 'auto' | 'off';
  /**
   * How often a running container's cgroup is sampled for its peak CPU and memory, ms; 0 samples
   * only at the start and end of each run. Default 10.
   */
  profileIntervalMs?: number;
  /** Where the socket directories are made. Default the OS temp directory. */
  socketParentDir?: string;
}

/** Below this a Node container cannot even start. */
const MIN_MEMORY_MB = 32;

interface Settings {
  workerId: WorkerId;
  runtimeImage: string;
  maxConcurrency: number;
  idleMs: number;
  startTimeoutMs: number;
  prewarm: number;
  pidsLimit: number;
  tmpfsMb: number;
  profileIntervalMs: number;
  startGate?: StartGate;
}

export class DockerSandbox extends PooledSandbox<ContainerChild, ContainerPlan> {
  readonly kind = 'docker' as const;
  private nextChild = 0;

  private constructor(
    private readonly client: DockerClient,
    private readonly settings: Settings,
    readonly cgroupMode: CgroupMode,
    private readonly socketRoot: string,
    private readonly instance: string,
    logger: Logger,
  ) {
    super(logger, {
      maxConcurrency: settings.maxConcurrency,
      idleMs: settings.idleMs,
      prewarm: settings.prewarm,
      minMemoryMb: MIN_MEMORY_MB,
      ...(settings.startGate ? { gate: settings.startGate } : {}),
    });
  }

  /**
   * Whether an engine answers at `socketPath` within `timeoutMs`, without throwing: the worker
   * uses it to choose between this sandbox and the process sandbox.
   */
  static async probe(
    socketPath?: string,
    timeoutMs = 2000,
  ): Promise<{ ok: true; version: string; socketPath: string } | { ok: false; reason: string }> {
    const client = new DockerClient(socketPath === undefined ? {} : { socketPath });
    try {
      return { ok: true, version: await client.version(timeoutMs), socketPath: client.socketPath };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Connects to the engine, checks the runtime image, and removes this worker's leftovers. */
  static async create(options: DockerSandboxOptions): Promise<DockerSandbox> {
    const logger = (options.logger ?? silentLogger).child({ component: 'sandbox', kind: 'docker' });
    const settings: Settings = {
      workerId: options.workerId,
      runtimeImage: options.runtimeImage ?? DEFAULT_RUNTIME_IMAGE,
      maxConcurrency: options.maxConcurrencyPerFunction ?? 8,
      idleMs: options.idleMs ?? 600_000,
      startTimeoutMs: options.startTimeoutMs ?? 10_000,
      prewarm: options.prewarm ?? 0,
      pidsLimit: options.pidsLimit ?? 64,
      tmpfsMb: options.tmpfsMb ?? 64,
      profileIntervalMs: options.profileIntervalMs ?? 10,
      ...(options.startGate ? { startGate: options.startGate } : {}),
    };
    const problems = (
      [
        ['maxConcurrencyPerFunction', settings.maxConcurrency, 1],
        ['idleMs', settings.idleMs, 1],
        ['startTimeoutMs', settings.startTimeoutMs, 1],
        ['prewarm', settings.prewarm, 0],
        ['pidsLimit', settings.pidsLimit, 8],
        ['tmpfsMb', settings.tmpfsMb, 1],
        ['profileIntervalMs', settings.profileIntervalMs, 0],
      ] as const
    )
      .filter(([, value, min]) => !Number.isInteger(value) || value < min)
      .map(([name, value, min]) => `${name} must be an integer ≥ ${min}, got ${value}`);
    if (problems.length > 0) {
      throw new AppError('CONFIG_INVALID', `docker sandbox: ${problems.join('; ')}`);
    }
    const client = new DockerClient({
      ...(options.socketPath === undefined ? {} : { socketPath: options.socketPath }),
      ...(options.engineTimeoutMs === undefined
        ? {}
        : { requestTimeoutMs: options.engineTimeoutMs }),
    });
    const version = await client.version();
    if (!(await client.imageExists(settings.runtimeImage))) {
      throw new AppError(
        'SANDBOX_UNAVAILABLE',
        `runtime image ${settings.runtimeImage} is not on the Docker engine at ${client.socketPath}: build it with \`${BUILD_COMMAND}\``,
        { retryable: false, details: { image: settings.runtimeImage } },
      );
    }
    const leftovers = await removeOwned(client, options.workerId);
    const cgroupMode: CgroupMode =
      options.cgroups === 'off'
        ? { kind: 'none', reason: 'disabled by configuration (cgroups: off)' }
        : detectCgroupMode(undefined, 'docker');
    const instance = randomBytes(3).toString('hex');
    const socketRoot = mkdtempSync(join(options.socketParentDir ?? tmpdir(), 'faasflow-dkr-'));
    logger.info(
      {
        engine: version,
        socketPath: client.socketPath,
        image: settings.runtimeImage,
        leftoversRemoved: leftovers,
        resize: cgroupMode.kind === 'none' ? 'engine API' : 'cgroup, then engine API',
        cgroups: describeCgroupMode(cgroupMode),
      },
      'docker sandbox ready',
    );
    return new DockerSandbox(client, settings, cgroupMode, socketRoot, instance, logger);
  }

  protected async prepare(d: FunctionDeployment): Promise<ContainerPlan> {
    const plan = planContainer(d, this.settings.runtimeImage);
    if (plan.ownImage && !(await this.client.imageExists(plan.image))) {
      throw new AppError(
        'SANDBOX_UNAVAILABLE',
        `image ${plan.image} of function ${d.key} is not on the Docker engine at ${this.client.socketPath}: build or load it on this host (docker build / docker load; images are never pulled); it must speak the runtime protocol (deploy/runtime-image/README.md)`,
        { retryable: false, details: { key: d.key, image: plan.image } },
      );
    }
    return plan;
  }

  limitsOf(sandboxId: string): ReturnType<ContainerChild['limits']['read']> {
    return this.children.get(sandboxId)?.limits.read() ?? null;
  }

  /** The limits the engine records for a container (`docker inspect`), once it has caught up. */
  async engineLimitsOf(sandboxId: string): Promise<ContainerState> {
    const child = this.children.get(sandboxId);
    if (child === undefined) {
      throw new AppError('NOT_FOUND', `sandbox ${sandboxId} is not running on this worker`);
    }
    await child.limitsSettled();
    return this.client.inspect(child.containerId);
  }

  /** Engine ids of the live containers, by sandbox id (for diagnostics and tests). */
  containers(): Map<string, string> {
    return new Map([...this.children].map(([id, c]) => [id, c.containerId]));
  }

  protected async release(): Promise<void> {
    // Anything that escaped tracking (a create whose answer was lost) still carries our label.
    const swept = await removeOwned(this.client, this.settings.workerId).catch((err: unknown) => {
      this.logger.warn({ err }, 'sweeping containers at close failed');
      return 0;
    });
    if (swept > 0) this.logger.warn({ swept }, 'removed untracked containers at close');
    rmSync(this.socketRoot, { recursive: true, force: true });
    this.logger.info('docker sandbox closed');
  }

  protected startOne(
    d: FunctionDeployment,
    plan: ContainerPlan,
    allocation: Allocation,
  ): Promise<ContainerChild> {
    return this.startContainer(d, plan, allocation);
  }

  private async startContainer(
    d: FunctionDeployment,
    plan: ContainerPlan,
    allocation: Allocation,
  ): Promise<ContainerChild> {
    const s = this.settings;
    const sandboxId = containerName(
      s.workerId,
      d,
      `${this.instance}${(this.nextChild++).toString(36)}`,
    );
    const socketHostDir = join(this.socketRoot, sandboxId);
    const spec = functionContainerSpec({
      workerId: s.workerId,
      sandboxId,
      deployment: d,
      plan,
      allocation,
      socketHostDir,
      networkMode: d.fn.network === 'host' ? 'host' : 'none',
      acceptTimeoutMs: s.startTimeoutMs,
      pidsLimit: s.pidsLimit,
      tmpfsMb: s.tmpfsMb,
    });
    return ContainerChild.start({
      sandboxId,
      label: d.key,
      fnName: d.fn.name,
      spec,
      ownImage: plan.ownImage,
      source: plan.source,
      socketHostDir,
      allocation,
      client: this.client,
      cgroupMode: this.cgroupMode,
      profileIntervalMs: s.profileIntervalMs,
      startTimeoutMs: s.startTimeoutMs,
      logger: this.logger,
    });
  }
}

/** Removes every container labelled with `workerId`; returns how many there were. */
async function removeOwned(client: DockerClient, workerId: string): Promise<number> {
  const owned = await client.list({ [LABELS.worker]: workerId });
  await Promise.all(owned.map((c) => client.remove(c.id)));
  return owned.length;
}
