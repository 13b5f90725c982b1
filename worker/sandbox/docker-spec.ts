/**
 * What the Docker sandbox asks the engine for, as pure functions over plain data: container
 * names and labels (an operator sees which worker, workflow and function a container serves),
 * the isolation every function container gets (no network but loopback unless the function asks
 * for the host's, read-only root with a small tmpfs, non-root user, no capabilities, pids, CPU and
 * memory limits), and where a deployment's handler appears inside the container.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { AppError } from '../../shared/errors.js';
import { cpuSharesOf } from './cpu-weight.js';
import type { RuntimeSource } from './runtime/protocol.js';
import type { Allocation } from '../../shared/schema/wire.js';
import type { FunctionDeployment } from './types.js';
import { preloadFiles, withPreload } from './preload.js';

export const DEFAULT_RUNTIME_IMAGE = 'faasflow-runtime:latest';
/** How to make the runtime image; named in every "image missing" error. */
export const BUILD_COMMAND = 'bash deploy/runtime-image/build.sh';
/** Inside the container: the bind-mounted directory holding the runtime's unix socket. */
export const CONTAINER_SOCKET_DIR = '/run/faasflow';
export const SOCKET_FILE = 'runtime.sock';
/** Inside the container: the deployment's baseDir, mounted read-only (handler functions). */
export const HANDLER_DIR = '/fn';
/** The handler an `image:` function is told to load (its own server may ignore it). */
export const IMAGE_HANDLER_PATH = '/fn/index.js';
/** The runtime image's non-root user; every function container runs as it. */
export const RUNTIME_USER = '10001:10001';
export const CPU_PERIOD_US = 100_000;
const MIN_QUOTA_US = 1000;
const MIB = 1024 * 1024;

export const LABELS = {
  worker: 'org.faasflow.worker',
  workflow: 'org.faasflow.workflow',
  version: 'org.faasflow.version',
  function: 'org.faasflow.function',
  key: 'org.faasflow.key',
  sandbox: 'org.faasflow.sandbox',
} as const;

/** A container create request, narrowed to what the sandbox sets (see docker-client.ts). */
export interface ContainerCreateSpec {
  name: string;
  image: string;
  /** Appended to the image's entrypoint. */
  cmd: string[];
  /** The process environment beyond the image's own (`KEY=value`). */
  env: string[];
  labels: Record<string, string>;
  user: string;
  workingDir: string;
  host: {
    /** `none` (loopback only) or `host`; never a bridge. */
    networkMode: 'none' | 'host';
    binds: string[];
    tmpfs: Record<string, string>;
    readonlyRootfs: boolean;
    memoryBytes: number;
    memoryReservationBytes: number;
    cpuQuotaUs: number;
    cpuPeriodUs: number;
    cpuShares: number;
    pidsLimit: number;
    capDrop: string[];
    securityOpt: string[];
    logMaxBytes: number;
  };
}

export interface CgroupLimits {
  /** The hard limit (`Memory`): `memoryMaxMb` when the allocation has one. */
  memoryBytes: number;
  /** The soft limit (`MemoryReservation`); 0: none. */
  memoryReservationBytes: number;
  cpuQuotaUs: number;
  cpuPeriodUs: number;
  /** `CpuShares`, in proportion to the allocation as Kubernetes sets them. */
  cpuShares: number;
}

/** A deployment as the Docker sandbox runs it. */
export interface ContainerPlan {
  /** The image to run: the runtime image, or the function's own. */
  image: string;
  /** True for an `image:` function. */
  ownImage: boolean;
  /** What the runtime server is told to load, as seen inside the container. */
  source: RuntimeSource;
  /** Host directory bind-mounted read-only at HANDLER_DIR; null when nothing is mounted. */
  handlerDir: string | null;
}

export function limitsFor(a: Allocation): CgroupLimits {
  const soft = a.memoryMaxMb !== undefined && a.memoryMaxMb > a.memoryMb;
  return {
    memoryBytes: Math.round(Math.max(a.memoryMb, a.memoryMaxMb ?? 0) * MIB),
    memoryReservationBytes: soft ? Math.round(a.memoryMb * MIB) : 0,
    cpuQuotaUs: Math.max(MIN_QUOTA_US, Math.round(a.cpu * CPU_PERIOD_US)),
    cpuPeriodUs: CPU_PERIOD_US,
    cpuShares: cpuSharesOf(a.cpu),
  };
}

/** How a deployment runs in a container; throws WORKFLOW_INVALID naming what to fix. */
export function planContainer(d: FunctionDeployment, runtimeImage: string): ContainerPlan {
  const plan = planSource(d, runtimeImage);
  const preload = preloadFiles(d, HANDLER_DIR);
  if (preload.length === 0) return plan;
  // The deployment folder is mounted for the preload files too.
  return { ...plan, source: withPreload(plan.source, preload), handlerDir: d.baseDir };
}

function planSource(d: FunctionDeployment, runtimeImage: string): ContainerPlan {
  const { source } = d.fn;
  switch (source.kind) {
    case 'handler': {
      const path = isAbsolute(source.path) ? source.path : resolve(d.baseDir, source.path);
      const inside = relative(d.baseDir, path);
      if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
        throw new AppError(
          'WORKFLOW_INVALID',
          `handler of function ${d.key} (${source.path}) lies outside its deployment folder ${d.baseDir}; the docker sandbox mounts only that folder (read-only at ${HANDLER_DIR})`,
          { details: { key: d.key, path } },
        );
      }
      if (!existsSync(path) || !statSync(path).isFile()) {
        throw new AppError(
          'WORKFLOW_INVALID',
          `handler of function ${d.key} not found: ${path} (${source.path} resolved against baseDir ${d.baseDir})`,
          { details: { key: d.key, path } },
        );
      }
      const containerPath = [HANDLER_DIR, ...inside.split(sep)].join('/');
      return {
        image: runtimeImage,
        ownImage: false,
        source: { kind: 'handler', path: containerPath },
        handlerDir: d.baseDir,
      };
    }
    case 'code':
      return {
        image: runtimeImage,
        ownImage: false,
        source: { kind: 'code', code: source.code },
        handlerDir: null,
      };
    case 'builtin':
      return {
        image: runtimeImage,
        ownImage: false,
        source: { kind: 'builtin', builtin: source.builtin },
        handlerDir: null,
      };
    case 'image':
      return {
        image: source.image,
        ownImage: true,
        source: { kind: 'handler', path: IMAGE_HANDLER_PATH },
        handlerDir: null,
      };
    default:
      return source satisfies never;
  }
}

/** A Docker container name part: the allowed characters only, bounded. */
export function namePart(text: string, maxLength = 40): string {
  const cleaned = text.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (cleaned === '' ? 'x' : cleaned).slice(0, maxLength);
}

/** `ff-<worker>-<workflow>-v<version>-<fn>-<suffix>`: unique per engine, readable in `docker ps`. */
export function containerName(workerId: string, d: FunctionDeployment, suffix: string): string {
  return [
    'ff',
    namePart(workerId),
    namePart(d.workflow),
    `v${d.version}`,
    namePart(d.fn.name),
    namePart(suffix),
  ].join('-');
}

export function labelsFor(
  workerId: string,
  d: FunctionDeployment,
  sandboxId: string,
): Record<string, string> {
  return {
    [LABELS.worker]: workerId,
    [LABELS.workflow]: d.workflow,
    [LABELS.version]: String(d.version),
    [LABELS.function]: d.fn.name,
    [LABELS.key]: d.key,
    [LABELS.sandbox]: sandboxId,
  };
}

export interface FunctionContainerInput {
  workerId: string;
  sandboxId: string;
  deployment: FunctionDeployment;
  plan: ContainerPlan;
  allocation: Allocation;
  /** Host directory bind-mounted at CONTAINER_SOCKET_DIR. */
  socketHostDir: string;
  networkMode: 'none' | 'host';
  acceptTimeoutMs: number;
  pidsLimit: number;
  tmpfsMb: number;
}

export function functionContainerSpec(i: FunctionContainerInput): ContainerCreateSpec {
  const limits = limitsFor(i.allocation);
  const binds = [`${i.socketHostDir}:${CONTAINER_SOCKET_DIR}:rw`];
  if (i.plan.handlerDir !== null) binds.push(`${i.plan.handlerDir}:${HANDLER_DIR}:ro`);
  return {
    name: i.sandboxId,
    image: i.plan.image,
    cmd: [
      '--socket',
      `${CONTAINER_SOCKET_DIR}/${SOCKET_FILE}`,
      '--accept-timeout-ms',
      String(i.acceptTimeoutMs),
    ],
    // A clean environment: nothing of the worker's leaks in (NODE_EXTRA_CA_CERTS alone costs
    // ~47 ms per start). No V8 heap flag: node sizes its heap from the container's memory limit,
    // the kernel enforces that limit, and an explicit --max-old-space-size adds ~20 ms to every
    // container start here. Running out of either is FUNCTION_OOM.
    env: ['HOME=/tmp'],
    labels: labelsFor(i.workerId, i.deployment, i.sandboxId),
    user: RUNTIME_USER,
    workingDir: i.plan.handlerDir === null ? '/tmp' : HANDLER_DIR,
    host: {
      networkMode: i.networkMode,
      binds,
      tmpfs: { '/tmp': `rw,nosuid,nodev,size=${i.tmpfsMb}m,mode=1777` },
      readonlyRootfs: true,
      ...limits,
      pidsLimit: i.pidsLimit,
      capDrop: ['ALL'],
      securityOpt: ['no-new-privileges'],
      logMaxBytes: MIB,
    },
  };
}
