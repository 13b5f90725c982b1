/** What the master's routes share. */
import type { ChannelStats } from '../../shared/channel/ops.js';
import type { Principal } from '../../shared/auth.js';
import { AppError } from '../../shared/errors.js';
import { qualify } from '../../shared/tenancy.js';
import { WORKFLOW_NAME_RE } from '../workflow/limits.js';
import type { AuditLog } from '../auth/audit.js';
import type { TenantDirectory } from '../auth/directory.js';
import type { LimitGate, TenantLimits } from '../auth/limits.js';
import type { MasterConfig } from '../config.js';
import type { ChainService } from '../chains/service.js';
import type { HotWorkers } from '../shard/hot.js';
import type { KeyedShards } from '../shard/keyed.js';
import type { CompositionService } from '../compose/service.js';
import type { Harvester } from '../harvest/harvester.js';
import type { InvocationManager } from '../invocations/manager.js';
import type { DeploymentTracker } from '../registry/deployments.js';
import type { ViewPublisher } from '../registry/view.js';
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
  /** The placement view every worker's ingress places from. */
  view?: ViewPublisher;
  /** Composition's learners (docs/guides/composition.md). */
  compose?: CompositionService;
  /** Adaptive task chains: the chain model, the budget controllers, the planner. */
  chains?: ChainService;
  /** Keyed sharding: routing tables, their control loop and its history. */
  keyed?: KeyedShards;
  /** Which workers run hot, and the group moves it caused (master/shard/hot.ts). */
  hot?: HotWorkers;
  /** Resource harvesting; absent when it is off. */
  harvest?: Harvester;
  /** What the master's channels served (absent with `transport: http`). */
  channelStats?: ChannelStats;
  /** Tenants and their keys (the verifier of the client API when auth is on). */
  tenants: TenantDirectory;
  /** Whether the client API requires API keys. */
  auth: boolean;
  audit: AuditLog;
  /** Per-tenant admission of invocations. */
  gate: LimitGate;
}

/** The limits that apply to a tenant: its own over the cluster's defaults. */
export function limitsFor(c: MasterContext, tenant: string): TenantLimits {
  return c.tenants.limits(tenant, {
    maxConcurrent: c.config.tenantMaxConcurrent,
    invocationsPerSec: c.config.tenantInvocationsPerSec,
    burst: c.config.tenantBurst,
    maxWorkflowBytes: c.config.tenantMaxWorkflowBytes,
    maxVersions: c.config.tenantMaxVersions,
  });
}

/**
 * The qualified name of the principal's workflow `name` (shared/tenancy.ts). A name that is not
 * a plain workflow name (`acme.x` sent by another tenant) is not found, never another tenant's.
 */
export function workflowOf(p: Principal, name: string): string {
  if (!WORKFLOW_NAME_RE.test(name))
    throw new AppError(
      'WORKFLOW_NOT_FOUND',
      `workflow ${JSON.stringify(name)} is not deployed (workflow names are lower-case letters, digits and -)`,
    );
  return qualify(p.tenant, name);
}
