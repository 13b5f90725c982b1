/**
 * At an invocation's start, the chain planner's prepares go to their owner workers
 * (`POST /v1/prepares`, one request per worker, off the start's path; a worker that does not
 * answer just misses them — a prepare is an optimisation, never part of the run).
 */
import type { HttpClient } from '../../shared/http-client.js';
import type { Logger } from '../../shared/logger.js';
import type { InvocationRecord } from '../../shared/invocation/record.js';
import type { WorkflowVersion } from '../workflow/version.js';
import type { ChainService } from './service.js';

export function sendPrepares(
  chains: ChainService,
  http: Pick<HttpClient, 'json'>,
  logger: Logger,
  r: InvocationRecord,
  v: WorkflowVersion,
  inputBytes: number,
): void {
  if ((v.dag.prewarm?.mode ?? 'off') === 'off') return;
  const owners: Record<string, string> = {};
  for (const [node, group] of Object.entries(v.partition.groupOf)) {
    const worker = r.placement.groups[group];
    if (worker !== undefined) owners[node] = worker;
  }
  const actions = chains.plan({ dag: v.dag, owners }, () => 0, inputBytes);
  const byWorker = new Map<string, object[]>();
  for (const a of actions) {
    if (a.workflow !== v.name) continue; // successors are planned at their own start here
    const list = byWorker.get(a.worker) ?? [];
    list.push({
      workflow: a.workflow,
      version: v.version,
      function: a.function,
      node: a.node,
      startedAt: r.startedAt,
      atMs: a.atMs,
      ttlMs: Math.max(1, Math.round(a.ttlMs ?? 600_000)),
    });
    byWorker.set(a.worker, list);
  }
  for (const [worker, prepares] of byWorker) {
    const url = r.placement.workers[worker];
    if (url === undefined) continue;
    http
      .json(`${url}/v1/prepares`, 'POST', { prepares }, 5_000)
      .catch((err: unknown) => logger.debug({ err, worker }, 'prepares not delivered'));
  }
}
