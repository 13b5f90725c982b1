/**
 * Which sandboxes a worker runs its functions in. The base (`runtime:`): `process` gets the
 * process sandbox; `docker` gets the Docker sandbox when an engine answers, and otherwise the
 * process sandbox — the embedded default where no engine is reachable — with a warning saying
 * why. An engine that answers but lacks the runtime image is a configuration error, not a
 * fallback: the worker refuses to start and names the build command. The other tiers a
 * function's `isolation:` names (thread, trusted, and process or docker beside the base) are
 * opened by the router on first use, with the same fallback for docker.
 */
import type { WorkerId } from '../../shared/ids.js';
import type { Logger } from '../../shared/logger.js';
import { DockerSandbox } from './docker.js';
import { ProcessSandbox, type ProcessSandboxOptions } from './process.js';
import { ThreadSandbox } from './thread.js';
import { TieredSandbox, type TierSandbox } from './tiered.js';
import { TrustedSandbox } from './trusted.js';
import { StartGate } from './start-gate.js';
import type { Isolation } from '../../shared/dag/types.js';

export interface SandboxChoiceOptions {
  runtime: 'process' | 'docker';
  workerId: WorkerId;
  logger: Logger;
  maxConcurrencyPerFunction: number;
  idleMs: number;
  /** Cgroup sampling interval of running sandboxes, ms (see ProcessSandboxOptions). */
  profileIntervalMs?: number;
  /** Process tier only: who children run as and in which network (ProcessSandboxOptions). */
  confine?: ProcessSandboxOptions['confine'];
  /** Docker only. */
  dockerSocket?: string;
  runtimeImage?: string;
  prewarm?: number;
  /** How long the engine may take to answer the probe. Default 2000. */
  probeTimeoutMs?: number;
  /** Sandboxes started at once across every tier (start-gate.ts); 0: no limit. Default: none. */
  startConcurrency?: number;
}

export async function openSandbox(options: SandboxChoiceOptions): Promise<TieredSandbox> {
  // One gate for every tier: their starts share the worker's cores.
  const o: Choice =
    options.startConcurrency === undefined
      ? options
      : { ...options, startGate: new StartGate(options.startConcurrency) };
  const base = await openBase(o);
  const open = async (tier: Isolation): Promise<TierSandbox> => {
    o.logger.info({ tier }, 'sandbox tier opened');
    switch (tier) {
      case 'process':
        return ProcessSandbox.create(processOptions(o));
      case 'docker':
        // No engine: the process tier serves docker functions too (openBase says why).
        return base.kind === 'process' ? openBase(o, 'docker', base) : base;
      case 'thread':
        return ThreadSandbox.create(common(o));
      case 'trusted':
        return TrustedSandbox.create(common(o));
      default:
        return tier satisfies never;
    }
  };
  return new TieredSandbox(base, open);
}

type Choice = SandboxChoiceOptions & { startGate?: StartGate };

function common(o: SandboxChoiceOptions): {
  workerId: SandboxChoiceOptions['workerId'];
  logger: Logger;
  maxConcurrencyPerFunction: number;
  idleMs: number;
  profileIntervalMs?: number;
} {
  return {
    workerId: o.workerId,
    logger: o.logger,
    maxConcurrencyPerFunction: o.maxConcurrencyPerFunction,
    idleMs: o.idleMs,
    ...(o.profileIntervalMs === undefined ? {} : { profileIntervalMs: o.profileIntervalMs }),
  };
}

function processOptions(o: Choice): ProcessSandboxOptions {
  return {
    ...common(o),
    ...(o.confine === undefined ? {} : { confine: o.confine }),
    ...(o.startGate === undefined ? {} : { startGate: o.startGate }),
  };
}

/**
 * The base sandbox (`runtime`), or, with `fallback`, the Docker tier of a process worker: the
 * fallback itself when no engine answers.
 */
async function openBase(
  o: Choice,
  runtime: 'process' | 'docker' = o.runtime,
  fallback?: ProcessSandbox,
): Promise<ProcessSandbox | DockerSandbox> {
  if (runtime === 'process') {
    o.logger.info(
      { sandbox: 'process', reason: 'configured (runtime: process)' },
      'sandbox chosen',
    );
    return ProcessSandbox.create(processOptions(o));
  }
  const probe = await DockerSandbox.probe(o.dockerSocket, o.probeTimeoutMs ?? 2000);
  if (!probe.ok) {
    o.logger.warn(
      {
        sandbox: 'process',
        configured: 'docker',
        reason: `no Docker engine answered: ${probe.reason}`,
      },
      'sandbox chosen',
    );
    return fallback ?? ProcessSandbox.create(processOptions(o));
  }
  const sandbox = await DockerSandbox.create({
    ...common(o),
    socketPath: probe.socketPath,
    ...(o.runtimeImage === undefined ? {} : { runtimeImage: o.runtimeImage }),
    ...(o.prewarm === undefined ? {} : { prewarm: o.prewarm }),
    ...(o.startGate === undefined ? {} : { startGate: o.startGate }),
  });
  o.logger.info(
    {
      sandbox: 'docker',
      reason: `configured (runtime: docker) and the engine at ${probe.socketPath} answered (Docker ${probe.version})`,
    },
    'sandbox chosen',
  );
  return sandbox;
}
