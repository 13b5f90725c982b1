/**
 * The placement view (docs/design.md §4): what every worker needs to take invocations on its own
 * API — the ready and draining workers with capacity, load and the versions each holds, and the
 * cluster's placement strategy, mode and durability default. Pushed to every live worker on
 * every change of membership or deployments (a short debounce folds bursts into one push) and
 * every `intervalMs`, so load stays about one heartbeat old. One push in flight per worker;
 * a failed push is not retried (the next one carries everything).
 */
import type { HttpClient } from '../../shared/http-client.js';
import type { Logger } from '../../shared/logger.js';
import type { PlacementView } from '../../shared/schema/wire.js';
import type { MasterConfig } from '../config.js';
import type { WorkflowCatalog } from '../workflow/catalog.js';
import type { DeploymentTracker } from './deployments.js';
import type { WorkerRegistry } from './workers.js';

/** How long a change waits for the next one before the view goes out. */
const DEBOUNCE_MS = 10;

export interface ViewPublisherOptions {
  registry: WorkerRegistry;
  deployments: DeploymentTracker;
  catalog: WorkflowCatalog;
  http: HttpClient;
  logger: Logger;
  config: Pick<
    MasterConfig,
    'mode' | 'placement' | 'durability' | 'harvest' | 'defaultTimeoutMs' | 'maxTimeoutMs'
  >;
  intervalMs: number;
  masterUrl: () => string;
  journal: boolean;
  /** API keys are required on the client API (the worker ingress then refuses invocations). */
  auth: boolean;
  tenant?: string;
  /** Keyed sharding: the routing tables of the keyed functions (master/shard/keyed.ts). */
  routing?: () => NonNullable<PlacementView['routing']>;
  /** Whether a worker runs hot (master/shard/hot.ts): the view marks it. */
  hot?: (worker: string) => boolean;
  /** With harvesting on: the model sets the master holds and how it decides. */
  harvest?: {
    modelVersions(): Record<string, number>;
    readonly policy: NonNullable<PlacementView['harvestPolicy']>;
  };
}

export class ViewPublisher {
  private seq = 0;
  private readonly pushing = new Set<string>();
  private debounce: NodeJS.Timeout | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly o: ViewPublisherOptions) {
    this.timer = setInterval(() => this.publish(), o.intervalMs);
    this.timer.unref();
  }

  /** The view as of now. */
  view(): PlacementView {
    const versions = this.o.catalog.current();
    return {
      seq: ++this.seq,
      master: this.o.masterUrl(),
      mode: this.o.config.mode,
      strategy: this.o.config.placement,
      durability: this.o.config.durability,
      journal: this.o.journal,
      auth: this.o.auth,
      harvest: this.o.config.harvest !== 'off',
      ...(this.o.harvest
        ? { models: this.o.harvest.modelVersions(), harvestPolicy: this.o.harvest.policy }
        : {}),
      defaultTimeoutMs: this.o.config.defaultTimeoutMs,
      maxTimeoutMs: this.o.config.maxTimeoutMs,
      tenant: this.o.tenant ?? 'default',
      intervalMs: this.o.intervalMs,
      ...(this.o.routing ? { routing: this.o.routing() } : {}),
      workers: this.o.registry
        .list()
        .filter(
          (w): w is typeof w & { status: 'ready' | 'draining' } =>
            w.status === 'ready' || w.status === 'draining',
        )
        .map((w) => ({
          id: w.id,
          url: w.url,
          capacity: w.capacity,
          status: w.status,
          load: w.load.running + w.load.queued + w.inflight,
          journal: w.journal === true,
          ...(this.o.hot?.(w.id) ? { hot: true } : {}),
          ...(w.labels === undefined ? {} : { labels: w.labels }),
          holds: versions
            .filter((v) => this.o.deployments.holds(w.id, v))
            .map((v) => `${v.name}@${v.version}`),
        })),
    };
  }

  /** Membership or deployments changed: push soon. */
  changed(): void {
    this.debounce ??= setTimeout(() => {
      this.debounce = undefined;
      this.publish();
    }, DEBOUNCE_MS);
    this.debounce.unref();
  }

  private publish(): void {
    const view = this.view();
    for (const w of view.workers) {
      if (this.pushing.has(w.id)) continue;
      this.pushing.add(w.id);
      this.o.http
        .json(`${w.url}/v1/cluster/view`, 'PUT', view, 2_000)
        .catch((err: unknown) =>
          this.o.logger.debug({ err, worker: w.id }, 'placement view not delivered'),
        )
        .finally(() => this.pushing.delete(w.id));
    }
  }

  close(): void {
    clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
  }
}
