/**
 * Which sandbox a worker runs its functions in. `runtime: process` gets the process sandbox;
 * `runtime: docker` gets the Docker sandbox when an engine answers, and otherwise the process
 * sandbox — the embedded default where no engine is reachable — with a warning saying why.
 * An engine that answers but lacks the runtime image is a configuration error, not a fallback:
 * the worker refuses to start and names the build command.
 */
import type { WorkerId } from '../../shared/ids.js';
import type { Logger } from '../../shared/logger.js';
import { DockerSandbox } from './docker.js';
import { ProcessSandbox } from './process.js';
import type { Sandbox } from './types.js';

export interface SandboxChoiceOptions {
  runtime: 'process' | 'docker';
  workerId: WorkerId;
  logger: Logger;
  maxConcurrencyPerFunction: number;
  idleMs: number;
  /** Cgroup sampling interval of running sandboxes, ms (see ProcessSandboxOptions). */
  profileIntervalMs?: number;
  /** Docker only. */
  dockerSocket?: string;
  runtimeImage?: string;
  prewarm?: number;
  /** How long the engine may take to answer the probe. Default 2000. */
  probeTimeoutMs?: number;
}

export async function openSandbox(o: SandboxChoiceOptions): Promise<Sandbox> {
  const common = {
    workerId: o.workerId,
    logger: o.logger,
    maxConcurrencyPerFunction: o.maxConcurrencyPerFunction,
    idleMs: o.idleMs,
    ...(o.profileIntervalMs === undefined ? {} : { profileIntervalMs: o.profileIntervalMs }),
  };
  if (o.runtime === 'process') {
    o.logger.info(
      { sandbox: 'process', reason: 'configured (runtime: process)' },
      'sandbox chosen',
    );
    return ProcessSandbox.create(common);
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
    return ProcessSandbox.create(common);
  }
  const sandbox = await DockerSandbox.create({
    ...common,
    socketPath: probe.socketPath,
    ...(o.runtimeImage === undefined ? {} : { runtimeImage: o.runtimeImage }),
    ...(o.prewarm === undefined ? {} : { prewarm: o.prewarm }),
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
