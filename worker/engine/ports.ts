/**
 * What the engine needs from the rest of the worker, as interfaces: the data plane (FaaStore),
 * the sandbox, the transport to other workers and the master, and a clock. The engine is tested
 * with real implementations of each; the interfaces keep it free of drivers.
 */
import type { Report, StoredRef, Trigger, ViewWorker } from '../../shared/schema/wire.js';
import type { ShardRunAnswer, ShardRunRequest } from '../../shared/schema/shard.js';
import type { InvocationId } from '../../shared/ids.js';

export interface DataPlane {
  put(
    invocationId: InvocationId,
    key: string,
    value: Buffer,
    consumers: { local: number; remote: number },
    /** The invocation's tenant: the object's key is namespaced by it (faastore/keys.ts). */
    options?: { tenant?: string },
  ): Promise<StoredRef>;
  getBuffer(ref: StoredRef): Promise<Buffer>;
  releaseInvocation(invocationId: InvocationId): Promise<void>;
}

export interface Transport {
  /** Delivers triggers to the worker (or master relay) at `url`; retries until `deadline` (epoch ms). */
  sendTriggers(
    url: string,
    triggers: Trigger[],
    deadline: number,
    signal?: AbortSignal,
  ): Promise<void>;
  /** Queues a report for the master at `masterUrl`; batched and retried by the transport. */
  report(masterUrl: string, report: Report): void;
}

/** What a sharded foreach needs from the worker (docs/guides/sharding.md §sharded foreach). */
export interface ShardPort {
  /** Ready workers that hold `workflow@version`, from the placement view; none without one. */
  workers(workflow: string, version: number): Pick<ViewWorker, 'id' | 'url' | 'load' | 'hot'>[];
  /** Hands one batch to the shard at `url`; rejects when the shard cannot answer (lost). */
  run(url: string, req: ShardRunRequest): Promise<ShardRunAnswer>;
}
