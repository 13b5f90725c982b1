/**
 * The CPU quota and memory limit of one live container, changed two ways: a direct write to the
 * container's cgroup (µs; the path harvesting takes when the cgroup is reachable) and the
 * engine's update API (~10 ms; the fallback, and how the engine learns the new limits).
 *
 * Invariants: after `apply` resolves, the kernel enforces the new limits; the engine's record
 * follows in the background, newest value last, so `docker inspect` and the cgroup agree once
 * `settled()` resolves; if an engine update lands after a newer direct write, the newer value is
 * written again at once.
 */
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ChildCgroup } from './cgroup.js';
import type { DockerClient } from './docker-client.js';
import { limitsFor } from './docker-spec.js';
import type { Allocation } from '../../shared/schema/wire.js';
import { sameAllocation } from './types.js';

export class ContainerLimits {
  private current: Allocation;
  private recorded: Allocation;
  private cgroup: ChildCgroup | null = null;
  /** False once a direct write was denied: the engine then does every change. */
  private writable = true;
  private syncing: Promise<void> | null = null;
  /** Engine-only updates, in call order, so the newest value lands last. */
  private engineQueue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly containerId: string,
    private readonly sandboxId: string,
    private readonly client: DockerClient,
    initial: Allocation,
    private readonly logger: Logger,
  ) {
    this.current = { ...initial };
    this.recorded = { ...initial };
  }

  /** The container's cgroup, once it is found; without it every change goes through the engine. */
  useCgroup(cgroup: ChildCgroup | null): void {
    this.cgroup = cgroup;
  }

  get direct(): boolean {
    return this.cgroup !== null && this.writable;
  }

  get allocation(): Allocation {
    return this.current;
  }

  async apply(a: Allocation): Promise<void> {
    if (same(a, this.current)) return;
    let next: Allocation = { ...a };
    if (this.cgroup === null || !this.writable) {
      const update = this.engineQueue.then(() =>
        this.client.update(this.containerId, limitsFor(next)),
      );
      this.engineQueue = update.catch(() => undefined);
      await update;
      this.current = next;
      this.recorded = next;
      return;
    }
    try {
      // A memory limit below what the container holds is kept as it was (see setLimits).
      next = this.cgroup.setLimits(next);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') {
        throw new AppError('SANDBOX_UNAVAILABLE', `sandbox ${this.sandboxId} is not running`, {
          cause: err,
        });
      }
      if (deniedToUs(err)) {
        // Not ours to write after all (no privilege, read-only mount): the engine does it.
        this.logger.warn({ err, sandboxId: this.sandboxId }, 'direct cgroup write denied');
        this.writable = false;
        return this.apply(a);
      }
      throw new AppError(
        'BAD_REQUEST',
        `the kernel refused to resize sandbox ${this.sandboxId} to ${next.cpu} cores and ${next.memoryMb} MB (a memory limit below what the function holds is refused)`,
        { cause: err, details: { sandboxId: this.sandboxId, allocation: next } },
      );
    }
    this.current = next;
    this.syncing ??= this.syncEngine().finally(() => (this.syncing = null));
  }

  /** Resolves once the engine records the limits the kernel enforces. */
  settled(): Promise<void> {
    return this.syncing ?? Promise.resolve();
  }

  /** The container is going: no further engine updates. */
  stop(): void {
    this.stopped = true;
    this.cgroup?.remove().catch(() => undefined);
    this.cgroup = null;
  }

  /** The limits as the kernel holds them; null without a direct cgroup. */
  read(): ReturnType<ChildCgroup['readLimits']> | null {
    return this.cgroup?.readLimits() ?? null;
  }

  private async syncEngine(): Promise<void> {
    while (!this.stopped && !same(this.recorded, this.current)) {
      const target = this.current;
      try {
        await this.client.update(this.containerId, limitsFor(target));
      } catch (err) {
        if (!this.stopped) {
          this.logger.warn({ err, sandboxId: this.sandboxId }, 'engine update after resize failed');
        }
        return;
      }
      this.recorded = target;
      if (!same(target, this.current) && !this.stopped) {
        try {
          this.cgroup?.setLimits(this.current);
        } catch (err) {
          this.logger.warn(
            { err, sandboxId: this.sandboxId },
            'rewriting the newest limits failed',
          );
        }
      }
    }
  }
}

function same(a: Allocation, b: Allocation): boolean {
  return sameAllocation(a, b);
}

/** The errno behind a failed cgroup write (cgroup.ts wraps it as the cause). */
function errnoOf(err: unknown): string | undefined {
  const cause = err instanceof Error ? err.cause : undefined;
  return (cause as NodeJS.ErrnoException | undefined)?.code;
}

/** A write refused for lack of privilege, rather than for the value written. */
function deniedToUs(err: unknown): boolean {
  const code = errnoOf(err);
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
}
