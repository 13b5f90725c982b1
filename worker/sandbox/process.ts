/**
 * The process sandbox (the embedded default): each deployed function gets a warm pool of Node
 * children running the runtime server, one request per child at a time, each child in its own
 * cgroup when the host allows it (v2, v1, or none — detected once and logged).
 *
 * It owns: the pools (one per deployment key), a private directory for the children's sockets,
 * and the cgroup root. `close()` kills every child, removes every cgroup and the socket directory.
 * It never retries a failed run: the engine decides.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
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
import { FunctionPool } from './pool.js';
import type { RuntimeSource } from './runtime/protocol.js';
import type {
  Allocation,
  FunctionDeployment,
  RunRequest,
  RunResult,
  Sandbox,
  SandboxStats,
} from './types.js';

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
}

/** Below this a Node child cannot even start. */
const MIN_MEMORY_MB = 32;

interface Deployed {
  deployment: FunctionDeployment;
  source: RuntimeSource;
  pool: FunctionPool<RuntimeChild>;
}

/**
 * The compiled runtime server: `./runtime/server.js` next to this file when running compiled,
 * `<repo>/dist/worker/sandbox/runtime/server.js` when running from TypeScript sources.
 */
export function locateRuntimeServer(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 'runtime', 'server.js');
  if (existsSync(beside)) return beside;
  const built = resolve(here, '..', '..', 'dist', 'worker', 'sandbox', 'runtime', 'server.js');
  if (existsSync(built)) return built;
  throw new AppError(
    'SANDBOX_UNAVAILABLE',
    `runtime server not found at ${beside} nor ${built}: run \`npm run build\` first`,
    { retryable: false },
  );
}

export class ProcessSandbox implements Sandbox {
  readonly kind = 'process' as const;
  private readonly deployed = new Map<string, Deployed>();
  private readonly children = new Map<string, RuntimeChild>();
  private nextChild = 0;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly logger: Logger,
    private readonly cgroups: Cgroups,
    private readonly socketDir: string,
    private readonly serverPath: string,
    private readonly instance: string,
    private readonly maxConcurrency: number,
    private readonly idleMs: number,
    private readonly startTimeoutMs: number,
  ) {}

  static create(options: ProcessSandboxOptions): Promise<ProcessSandbox> {
    const logger = (options.logger ?? silentLogger).child({
      component: 'sandbox',
      kind: 'process',
    });
    const maxConcurrency = options.maxConcurrencyPerFunction ?? 8;
    const idleMs = options.idleMs ?? 600_000;
    const startTimeoutMs = options.startTimeoutMs ?? 10_000;
    for (const [name, value, min] of [
      ['maxConcurrencyPerFunction', maxConcurrency, 1],
      ['idleMs', idleMs, 1],
      ['startTimeoutMs', startTimeoutMs, 1],
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
    const socketDir = mkdtempSync(join(tmpdir(), 'faasflow-sbx-'));
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
      ),
    );
  }

  /** The cgroup mode in use (after any degradation at create). */
  get cgroupMode(): CgroupMode {
    return this.cgroups.mode;
  }

  async deploy(d: FunctionDeployment, options: { prewarm?: number } = {}): Promise<void> {
    this.assertOpen();
    let entry = this.deployed.get(d.key);
    if (entry === undefined) {
      const source = runtimeSource(d);
      entry = {
        deployment: d,
        source,
        pool: new FunctionPool<RuntimeChild>({
          label: d.key,
          maxConcurrency: this.maxConcurrency,
          idleMs: this.idleMs,
          start: (allocation) => this.startChild(d, source, allocation),
        }),
      };
      this.deployed.set(d.key, entry);
      this.logger.debug({ key: d.key }, 'function deployed');
    }
    const prewarm = options.prewarm ?? 0;
    if (prewarm > 0) await entry.pool.prewarm(prewarm, { cpu: d.fn.cpu, memoryMb: d.fn.memoryMb });
  }

  async run(key: string, req: RunRequest): Promise<RunResult> {
    this.assertOpen();
    const entry = this.deployed.get(key);
    if (entry === undefined) {
      throw new AppError('NOT_FOUND', `function ${key} is not deployed on this sandbox`, {
        details: { key, deployed: [...this.deployed.keys()] },
      });
    }
    checkRequest(key, req);
    const lease = await entry.pool.acquire(req.allocation, req.signal);
    const { child } = lease;
    try {
      child.resize(req.allocation);
      const r = await child.run(req);
      return {
        output: r.output,
        cold: lease.cold,
        queueMs: lease.queueMs,
        initMs: lease.initMs,
        durationMs: r.durationMs,
        peakMemoryMb: r.peakMemoryMb,
        cpuTimeMs: r.cpuTimeMs,
        sandboxId: child.id,
      };
    } finally {
      entry.pool.release(child);
    }
  }

  resize(sandboxId: string, allocation: Allocation): Promise<void> {
    const child = this.children.get(sandboxId);
    if (child === undefined || !child.usable) {
      return Promise.reject(
        new AppError('NOT_FOUND', `sandbox ${sandboxId} is not running on this worker`, {
          details: { sandboxId },
        }),
      );
    }
    const problems = allocationProblems(allocation);
    if (problems.length > 0) {
      return Promise.reject(
        new AppError('BAD_REQUEST', `invalid resize of ${sandboxId}: ${problems.join('; ')}`),
      );
    }
    child.resize(allocation);
    return Promise.resolve();
  }

  /** The limits a child's cgroup holds now; null without cgroups or for an unknown child. */
  limitsOf(sandboxId: string): ReturnType<RuntimeChild['readLimits']> {
    return this.children.get(sandboxId)?.readLimits() ?? null;
  }

  /** Process ids of the live children (for diagnostics and tests). */
  pids(): number[] {
    return [...this.children.values()].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }

  async undeploy(key: string): Promise<void> {
    const entry = this.deployed.get(key);
    if (entry === undefined) return;
    this.deployed.delete(key);
    await entry.pool.close(`undeployed`);
  }

  stats(): SandboxStats {
    const perFunction: SandboxStats['perFunction'] = {};
    let busy = 0;
    for (const [key, { pool }] of this.deployed) {
      const s = pool.stats();
      perFunction[key] = s;
      busy += s.busy;
    }
    return { sandboxes: this.children.size, busy, perFunction };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const pools = [...this.deployed.values()].map((e) => e.pool);
    this.deployed.clear();
    await Promise.all(pools.map((p) => p.close('sandbox closed')));
    await Promise.all([...this.children.values()].map((c) => (c.kill('sandbox closed'), c.exited)));
    this.cgroups.close();
    rmSync(this.socketDir, { recursive: true, force: true });
  }

  private async startChild(
    d: FunctionDeployment,
    source: RuntimeSource,
    allocation: Allocation,
  ): Promise<RuntimeChild> {
    this.assertOpen();
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
      startTimeoutMs: this.startTimeoutMs,
      logger: this.logger,
    });
    this.children.set(id, child);
    void child.exited.then(() => {
      this.children.delete(id);
      this.deployed.get(d.key)?.pool.forget(child);
    });
    this.logger.debug(
      { key: d.key, sandboxId: id, startMs: performance.now() - startedMs },
      'sandbox started',
    );
    return child;
  }

  private assertOpen(): void {
    if (this.closing !== null)
      throw new AppError('SANDBOX_UNAVAILABLE', 'process sandbox is closed');
  }
}

function allocationProblems(a: Allocation): string[] {
  const problems: string[] = [];
  if (!Number.isFinite(a.cpu) || a.cpu <= 0) {
    problems.push(`allocation.cpu must be a positive number of cores, got ${a.cpu}`);
  }
  if (!Number.isFinite(a.memoryMb) || a.memoryMb < MIN_MEMORY_MB) {
    problems.push(`allocation.memoryMb must be ≥ ${MIN_MEMORY_MB}, got ${a.memoryMb}`);
  }
  return problems;
}

function checkRequest(key: string, req: RunRequest): void {
  const problems: string[] = [];
  if (!Number.isFinite(req.timeoutMs) || req.timeoutMs <= 0) {
    problems.push(`timeoutMs must be a positive number of ms, got ${req.timeoutMs}`);
  }
  problems.push(...allocationProblems(req.allocation));
  if (problems.length > 0) {
    throw new AppError('BAD_REQUEST', `invalid run request for ${key}: ${problems.join('; ')}`, {
      details: { key, problems },
    });
  }
}

/** What the runtime loads for a deployment; rejects sources this sandbox cannot run. */
function runtimeSource(d: FunctionDeployment): RuntimeSource {
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
        `function ${d.key} runs image ${source.image}, which needs the docker sandbox; the process sandbox runs handler, code and builtin functions`,
        { details: { key: d.key, image: source.image } },
      );
    default:
      return source satisfies never;
  }
}
