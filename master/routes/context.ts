/** What the master's routes share. */
import type { ChannelStats } from '../../shared/channel/ops.js';
import type { MasterConfig } from '../config.js';
import type { CompositionService } from '../compose/service.js';
import type { Harvester } from '../harvest/harvester.js';
import type { InvocationManager } from '../invocations/manager.js';
import type { DeploymentTracker } from '../registry/deployments.js';
import type { WorkerRegistry } from '../registry/workers.js';
import type { MasterStore } from '../store/types.js';
import type { WorkflowCatalog } from '../workflow/catalog.js';

export interface MasterContext {
  config: MasterConfig;
  catalog: WorkflowCatalog;
  registry: WorkerRegistry;
  deployments: DeploymentTracker;
  invocations: InvocationManager;
  /** The master's persistent state (catalogue, invocation records, idempotency keys, values). */
  store: MasterStore;
  /** Composition's learners (docs/guides/composition.md). */
  compose?: CompositionService;
  /** Resource harvesting; absent when it is off. */
  harvest?: Harvester;
  /** What the master's channels served (absent with `transport: http`). */
  channelStats?: ChannelStats;
}
