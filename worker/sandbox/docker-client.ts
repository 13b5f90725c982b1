/**
 * The one file that imports dockerode: a narrow client for the calls the Docker sandbox makes,
 * over the engine's unix socket, with plain types in and out.
 *
 * Invariants: every call but `waitExit` (a long poll that ends with the container) carries a
 * deadline; every failure is an AppError — SANDBOX_UNAVAILABLE naming the socket when the engine
 * cannot be reached, NOT_FOUND for a missing container or image, SANDBOX_UNAVAILABLE with the
 * engine's own message otherwise; removing a container that is already gone is not an error.
 */
import Docker from 'dockerode';
import { AppError } from '../../shared/errors.js';
import type { ContainerCreateSpec } from './docker-spec.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export interface ContainerState {
  id: string;
  running: boolean;
  /** Host pid of the container's first process; 0 when not running. */
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  /** The engine's error for a container that failed to start; '' when none. */
  error: string;
  memoryBytes: number;
  cpuQuotaUs: number;
  cpuPeriodUs: number;
}

export interface ContainerSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  state: string;
}

export interface DockerClientOptions {
  /** The engine's unix socket. Default `DOCKER_HOST` when it is `unix://…`, else /var/run/docker.sock. */
  socketPath?: string;
  /** Deadline of each API call (not of `waitExit`). Default 30 000. */
  requestTimeoutMs?: number;
}

export class DockerClient {
  readonly socketPath: string;
  private readonly docker: Docker;
  private readonly requestTimeoutMs: number;

  constructor(options: DockerClientOptions = {}) {
    const fromEnv = process.env['DOCKER_HOST'];
    this.socketPath =
      options.socketPath ??
      (fromEnv?.startsWith('unix://') === true ? fromEnv.slice(7) : DEFAULT_DOCKER_SOCKET);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.docker = new Docker({ socketPath: this.socketPath });
  }

  /** The engine's version; throws SANDBOX_UNAVAILABLE when it does not answer in `timeoutMs`. */
  async version(timeoutMs = this.requestTimeoutMs): Promise<string> {
    const info = await this.call(
      'version',
      () => this.docker.version(), // raced: version() takes no signal in the typings
      timeoutMs,
    );
    return info.Version;
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      // Image inspect ignores abort signals: the call is raced against its deadline instead.
      await this.call(`inspect image ${image}`, () => this.docker.getImage(image).inspect());
      return true;
    } catch (err) {
      if (err instanceof AppError && err.code === 'NOT_FOUND') return false;
      throw err;
    }
  }

  /** Creates a container and returns its id. */
  async create(spec: ContainerCreateSpec): Promise<string> {
    const h = spec.host;
    const container = await this.call(`create container ${spec.name}`, (abortSignal) =>
      this.docker.createContainer({
        abortSignal,
        name: spec.name,
        Image: spec.image,
        Cmd: spec.cmd,
        Env: spec.env,
        Labels: spec.labels,
        User: spec.user,
        WorkingDir: spec.workingDir,
        AttachStdin: false,
        AttachStdout: false,
        AttachStderr: false,
        Tty: false,
        // With networking disabled the engine skips its network setup for `none` (a re-exec of
        // itself, ~100 ms per start on Docker 20.10); runc still gives the container a network
        // namespace of its own holding only loopback.
        NetworkDisabled: h.networkMode === 'none',
        HostConfig: {
          NetworkMode: h.networkMode,
          Binds: h.binds,
          Tmpfs: h.tmpfs,
          ReadonlyRootfs: h.readonlyRootfs,
          Memory: h.memoryBytes,
          MemorySwap: h.memoryBytes,
          MemoryReservation: h.memoryReservationBytes,
          CpuQuota: h.cpuQuotaUs,
          CpuPeriod: h.cpuPeriodUs,
          CpuShares: h.cpuShares,
          PidsLimit: h.pidsLimit,
          CapDrop: h.capDrop,
          SecurityOpt: h.securityOpt,
          RestartPolicy: { Name: 'no' },
          LogConfig: {
            Type: 'json-file',
            Config: { 'max-size': String(h.logMaxBytes), 'max-file': '1' },
          },
        },
      }),
    );
    return container.id;
  }

  async start(id: string): Promise<void> {
    await this.call(`start container ${id}`, (abortSignal) =>
      this.docker.getContainer(id).start({ abortSignal }),
    );
  }

  /** Resolves with the exit code once the container is not running; no deadline but `signal`. */
  async waitExit(id: string, signal: AbortSignal): Promise<number> {
    const body: unknown = await this.call(
      `wait for container ${id}`,
      () => this.docker.getContainer(id).wait({ condition: 'not-running', abortSignal: signal }),
      null,
    );
    const code = (body as { StatusCode?: unknown } | null)?.StatusCode;
    return typeof code === 'number' ? code : -1;
  }

  async inspect(id: string): Promise<ContainerState> {
    const info = await this.call(`inspect container ${id}`, (abortSignal) =>
      this.docker.getContainer(id).inspect({ abortSignal }),
    );
    return {
      id: info.Id,
      running: info.State.Running,
      pid: info.State.Pid,
      exitCode: info.State.ExitCode,
      oomKilled: info.State.OOMKilled,
      error: info.State.Error,
      memoryBytes: info.HostConfig.Memory ?? 0,
      cpuQuotaUs: info.HostConfig.CpuQuota ?? 0,
      cpuPeriodUs: info.HostConfig.CpuPeriod ?? 0,
    };
  }

  /** Live resize: the engine writes the container's cgroup and records the new limits. */
  async update(
    id: string,
    limits: {
      memoryBytes: number;
      memoryReservationBytes: number;
      cpuQuotaUs: number;
      cpuPeriodUs: number;
      cpuShares: number;
    },
  ): Promise<void> {
    await this.call(`update container ${id}`, (abortSignal) =>
      this.docker.getContainer(id).update({
        abortSignal,
        Memory: limits.memoryBytes,
        MemorySwap: limits.memoryBytes,
        MemoryReservation: limits.memoryReservationBytes,
        CpuQuota: limits.cpuQuotaUs,
        CpuPeriod: limits.cpuPeriodUs,
        CpuShares: limits.cpuShares,
      }),
    );
  }

  /** Kills (SIGKILL) and removes a container; a container already gone is fine. */
  async remove(id: string): Promise<void> {
    try {
      await this.call(`remove container ${id}`, (abortSignal) =>
        this.docker.getContainer(id).remove({ force: true, v: true, abortSignal }),
      );
    } catch (err) {
      if (err instanceof AppError && err.code === 'NOT_FOUND') return;
      // 409 "removal already in progress": someone else is removing it.
      if (err instanceof AppError && (err.details as { statusCode?: number }).statusCode === 409)
        return;
      throw err;
    }
  }

  /** Containers (running or not) carrying every `label=value` given. */
  async list(labels: Record<string, string>): Promise<ContainerSummary[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const found = await this.call('list containers', (abortSignal) =>
      this.docker.listContainers({ all: true, filters: JSON.stringify(filters), abortSignal }),
    );
    return found.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      labels: c.Labels,
      state: c.State,
    }));
  }

  /** The last `lines` lines of the container's stdout and stderr, interleaved. */
  async logTail(id: string, lines: number): Promise<string> {
    const raw = await this.call(`read logs of container ${id}`, (abortSignal) =>
      this.docker
        .getContainer(id)
        .logs({ stdout: true, stderr: true, tail: lines, follow: false, abortSignal }),
    );
    return demultiplex(raw);
  }

  /**
   * One API call under a deadline: aborted through `abortSignal` where dockerode supports it, and
   * raced in every case (some calls ignore the signal).
   */
  private async call<T>(
    what: string,
    fn: (signal: AbortSignal) => Promise<T>,
    timeoutMs: number | null = this.requestTimeoutMs,
  ): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline =
      timeoutMs === null
        ? null
        : new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              controller.abort();
              reject(
                new AppError(
                  'SANDBOX_UNAVAILABLE',
                  `Docker engine at ${this.socketPath} did not answer "${what}" within ${timeoutMs} ms`,
                ),
              );
            }, timeoutMs);
          });
    try {
      const attempt = fn(controller.signal);
      return await (deadline === null ? attempt : Promise.race([attempt, deadline]));
    } catch (err) {
      throw this.describe(what, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private describe(what: string, err: unknown): AppError {
    if (err instanceof AppError) return err;
    const e = err as { code?: string; statusCode?: number; json?: unknown; message?: string };
    if (
      e.code !== undefined &&
      ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ECONNRESET', 'EPIPE'].includes(e.code)
    ) {
      return new AppError(
        'SANDBOX_UNAVAILABLE',
        `Docker engine unreachable at ${this.socketPath} (${e.code}) while trying to ${what}; start it (dockerd --bridge=none --iptables=false --ip-masq=false) or point dockerSocket at it`,
        { cause: err, details: { socketPath: this.socketPath, code: e.code } },
      );
    }
    const engineMessage =
      typeof e.json === 'object' && e.json !== null && 'message' in e.json
        ? String(e.json.message)
        : (e.message ?? String(err));
    const details = { statusCode: e.statusCode, engineMessage };
    if (e.statusCode === 404) {
      return new AppError('NOT_FOUND', `cannot ${what}: ${engineMessage}`, { cause: err, details });
    }
    return new AppError('SANDBOX_UNAVAILABLE', `cannot ${what}: ${engineMessage}`, {
      cause: err,
      details,
    });
  }
}

/** Docker's log stream for a non-TTY container: frames of [stream, 0, 0, 0, size u32 BE] + bytes. */
function demultiplex(raw: Buffer): string {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 8 <= raw.length) {
    const size = raw.readUInt32BE(at + 4);
    out.push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return at === 0 && raw.length > 0 ? raw.toString('utf8') : Buffer.concat(out).toString('utf8');
}
