/**
 * The process sandbox (the embedded default): each deployed function gets a warm pool of Node
 * children running the runtime server, one request per child at a time, each child in its own
 * cgroup when the host allows it (v2, v1, or none — detected once and logged).
 *
 * It owns: the pools (one per deployment key), a private directory for the children's sockets,
 * and the cgroup root. `close()` kills every child, removes every cgroup and the socket directory.
 * It never retries a failed run: the engine decides.
 */
import { chownSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AppError } from '../../shared/errors.js';
import type { WorkerId } from '../../shared/ids.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { Cgroups, describeCgroupMode, detectCgroupMode, type CgroupMode } from './cgroup.js';
import { RuntimeChild } from './child.js';
import {
  detectConfinement,
  readableBy,
  UNCONFINED,
  type Confinement,
  type SandboxNetworkSetting,
  type SandboxUserSetting,
} from './confine.js';
import { PooledSandbox } from './pooled.js';
import { preloadFiles, withPreload } from './preload.js';
import type { RuntimeSource } from './runtime/protocol.js';
import type { Allocation } from '../../shared/schema/wire.js';
import type { FunctionDeployment } from './types.js';
import type { StartGate } from './start-gate.js';

export interface ProcessSandboxOptions {
  workerId: WorkerId;
  logger?: Logger;
  /** Children per function at most; extra runs queue FIFO. Default 8. */
  maxConcurrencyPerFunction?: number;
  /** Idle children are stopped after this long. Default 600 000 (10 min). */
  idleMs?: number;
  /** Start → handler loaded, at most. Default 10 000. */
  startTimeoutMs?: number;
  /** `auto` (default) detects v2 / v1 / none; `off` runs without limits. */
  cgroups?: 'auto' | 'off';
  /** Our cgroup root, relative to each cgroup mount. Default `faasflow/<workerId>`. */
  cgroupRoot?: string;
  /** Where cgroup filesystems are mounted. Default `/sys/fs/cgroup`. */
  cgroupMountPath?: string;
  /** The compiled runtime server. Default: located by `locateRuntimeServer()`. */
  serverPath?: string;
  /**
   * How often a running child's cgroup is sampled for its peak CPU and memory, ms; 0 samples only
   * at the start and end of each run. Default 10. No effect without cgroups.
   */
  profileIntervalMs?: number;
  /**
   * The user children run as and whether they get their own network namespace (confine.ts).
   * Default: none (the worker's user and network); the worker passes its `sandboxUser` and
   * `sandboxNetwork` settings, `auto` by default.
   */
  confine?: { user: SandboxUserSetting; network: SandboxNetworkSetting };
  /**
   * The worker's start gate (start-gate.ts), shared with its other sandboxes: how many children
   * start at once, runs before prepares. Default: none (every start at once).
   */
  startGate?: StartGate;
}

/** Below this a Node child cannot even start. */
const MIN_MEMORY_MB = 32;

/**
 * The compiled runtime server: `./runtime/server.js` next to this file when running compiled,
 * `<repo>/dist/worker/sandbox/runtime/server.js` when running from TypeScript sources.
 */
export function locateRuntimeServer(): string {
  return locateRuntimeFile('server.js');
}

/** A compiled file of `runtime/` (`server.js`, `thread.js`), found as `locateRuntimeServer` says. */
export function locateRuntimeFile(file: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 'runtime', file);
  if (existsSync(beside)) return beside;
  const built = resolve(here, '..', '..', 'dist', 'worker', 'sandbox', 'runtime', file);
  if (existsSync(built)) return built;
  throw new AppError(
    'SANDBOX_UNAVAILABLE',
    `runtime file ${file} not found at ${beside} nor ${built}: run \`npm run build\` first`,
    { retryable: false },
  );
}

export class ProcessSandbox extends PooledSandbox<RuntimeChild, RuntimeSource> {
  readonly kind = 'process' as const;
  private nextChild = 0;

  private constructor(
    logger: Logger,
    private readonly cgroups: Cgroups,
    private readonly socketDir: string,
    private readonly serverPath: string,
    private readonly instance: string,
    maxConcurrency: number,
    idleMs: number,
    private readonly startTimeoutMs: number,
    private readonly profileIntervalMs: number,
    /** Who children run as, and in which network (logged once at create). */
    readonly confinement: Confinement,
    gate: StartGate | undefined,
  ) {
    super(logger, {
      maxConcurrency,
      idleMs,
      prewarm: 0,
      minMemoryMb: MIN_MEMORY_MB,
      ...(gate ? { gate } : {}),
    });
  }

  static create(options: ProcessSandboxOptions): Promise<ProcessSandbox> {
    const logger = (options.logger ?? silentLogger).child({
      component: 'sandbox',
      kind: 'process',
    });
    const maxConcurrency = options.maxConcurrencyPerFunction ?? 8;
    const idleMs = options.idleMs ?? 600_000;
    const startTimeoutMs = options.startTimeoutMs ?? 10_000;
    const profileIntervalMs = options.profileIntervalMs ?? 10;
    for (const [name, value, min] of [
      ['maxConcurrencyPerFunction', maxConcurrency, 1],
      ['idleMs', idleMs, 1],
      ['startTimeoutMs', startTimeoutMs, 1],
      ['profileIntervalMs', profileIntervalMs, 0],
    ] as const) {
      if (!Number.isInteger(value) || value < min) {
        throw new AppError('CONFIG_INVALID', `${name} must be an integer ≥ ${min}, got ${value}`);
      }
    }
    const serverPath = options.serverPath ?? locateRuntimeServer();
    const root = options.cgroupRoot ?? `faasflow/${options.workerId}`;
    const mode: CgroupMode =
      options.cgroups === 'off'
        ? { kind: 'none', reason: 'disabled by configuration (cgroups: off)' }
        : detectCgroupMode(options.cgroupMountPath, root);
    const cgroups = Cgroups.create(mode, root);
    logger.info({ cgroups: cgroups.mode.kind, root }, describeCgroupMode(cgroups.mode));
    const confinement =
      options.confine === undefined
        ? UNCONFINED
        : detectConfinement({ ...options.confine, mustRead: [serverPath] });
    if (options.confine !== undefined) {
      logger.info(
        { sandboxUser: confinement.user?.name ?? null, netns: confinement.netns },
        confinement.reasons.join('; '),
      );
    }
    const socketDir = mkdtempSync(join(tmpdir(), 'faasflow-sbx-'));
    // The child creates its socket here; the folder stays closed to everyone else.
    if (confinement.user !== null) chownSync(socketDir, confinement.user.uid, confinement.user.gid);
    const instance = randomBytes(3).toString('hex');
    return Promise.resolve(
      new ProcessSandbox(
        logger,
        cgroups,
        socketDir,
        serverPath,
        instance,
        maxConcurrency,
        idleMs,
        startTimeoutMs,
        profileIntervalMs,
        confinement,
        options.startGate,
      ),
    );
  }

  /** The cgroup mode in use (after any degradation at create). */
  get cgroupMode(): CgroupMode {
    return this.cgroups.mode;
  }

  /** The limits a child's cgroup holds now; null without cgroups or for an unknown child. */
  limitsOf(sandboxId: string): ReturnType<RuntimeChild['readLimits']> {
    return this.children.get(sandboxId)?.readLimits() ?? null;
  }

  /** Process ids of the live children (for diagnostics and tests). */
  pids(): number[] {
    return [...this.children.values()].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }

  protected prepare(d: FunctionDeployment): Promise<RuntimeSource> {
    const source = runtimeSource(d);
    const user = this.confinement.user;
    if (
      source.kind === 'handler' &&
      user !== null &&
      !readableBy(source.path, user.uid, user.gid)
    ) {
      return Promise.reject(
        new AppError(
          'SANDBOX_UNAVAILABLE',
          `${d.key}: the sandbox user ${user.name} (uid ${user.uid}) cannot read the handler ${source.path}; make the worker's dataDir and the handler readable by it (folders searchable), or set sandboxUser`,
          { retryable: false },
        ),
      );
    }
    return Promise.resolve(source);
  }

  protected async startOne(
    d: FunctionDeployment,
    source: RuntimeSource,
    allocation: Allocation,
  ): Promise<RuntimeChild> {
    const id = `${this.instance}-${(this.nextChild++).toString(36)}`;
    const startedMs = performance.now();
    const child = await RuntimeChild.start({
      id,
      label: d.key,
      fnName: d.fn.name,
      source,
      serverPath: this.serverPath,
      socketDir: this.socketDir,
      cwd: source.kind === 'handler' ? d.baseDir : tmpdir(),
      allocation,
      cgroup: this.cgroups.group(id, allocation),
      confinement: this.confinement,
      network: d.fn.network,
      profileIntervalMs: this.profileIntervalMs,
      startTimeoutMs: this.startTimeoutMs,
      logger: this.logger,
    });
    this.logger.debug(
      { key: d.key, sandboxId: id, startMs: performance.now() - startedMs },
      'sandbox started',
    );
    return child;
  }

  protected release(): Promise<void> {
    this.cgroups.close();
    rmSync(this.socketDir, { recursive: true, force: true });
    return Promise.resolve();
  }
}

/**
 * What the runtime loads for a deployment; rejects sources the `tier` (a sandbox without
 * containers: process, thread, trusted) cannot run.
 */
export function runtimeSource(d: FunctionDeployment, tier = 'process'): RuntimeSource {
  return withPreload(functionSource(d, tier), preloadFiles(d));
}

function functionSource(d: FunctionDeployment, tier: string): RuntimeSource {
  const { source } = d.fn;
  switch (source.kind) {
    case 'handler': {
      const path = isAbsolute(source.path) ? source.path : resolve(d.baseDir, source.path);
      if (!existsSync(path) || !statSync(path).isFile()) {
        throw new AppError(
          'WORKFLOW_INVALID',
          `handler of function ${d.key} not found: ${path} (${source.path} resolved against baseDir ${d.baseDir})`,
          { details: { key: d.key, path } },
        );
      }
      return { kind: 'handler', path };
    }
    case 'code':
      return { kind: 'code', code: source.code };
    case 'builtin':
      return { kind: 'builtin', builtin: source.builtin };
    case 'image':
      throw new AppError(
        'WORKFLOW_INVALID',
        `function ${d.key} runs image ${source.image}, which needs the docker sandbox; the ${tier} sandbox runs handler, code and builtin functions`,
        { details: { key: d.key, image: source.image } },
      );
    default:
      return source satisfies never;
  }
}
