/**
 * At an invocation's start, the chain planner's prepares go to their owner workers
 * (`POST /v1/prepares`, one request per worker, off the start's path; a worker that does not
 * answer just misses them — a prepare is an optimisation, never part of the run).
 *
 * A likely successor workflow (by its chain score) is planned where it would run now
 * (`predict`: its groups' last homes, else a proposal from the live view): its first nodes are
 * prepared from this invocation's start + the learned gap, since its own start is too late for
 * them.
 */
import type { HttpClient } from '../../shared/http-client.js';
import type { Logger } from '../../shared/logger.js';
import type { InvocationRecord } from '../../shared/invocation/record.js';
import {
  PLANNER_DEFAULTS,
  type PlannedWorkflow,
  type PrepareAction,
} from '../../shared/chains/index.js';
import type { Placement } from '../../shared/schema/wire.js';
import type { PredictedRun } from '../invocations/manager.js';
import type { WorkflowVersion } from '../workflow/version.js';
import type { ChainService } from './service.js';

/** One prepare as it travels (worker/sandbox/ahead.ts `PrepareMessage`). */
interface PrepareWire {
  workflow: string;
  version: number;
  function: string;
  node: string;
  startedAt: number;
  atMs: number;
  ttlMs: number;
  count?: number;
}

export function sendPrepares(
  chains: ChainService,
  http: Pick<HttpClient, 'json'>,
  logger: Logger,
  r: InvocationRecord,
  v: WorkflowVersion,
  inputBytes: number,
  predict: (workflow: string) => PredictedRun | undefined = () => undefined,
): PrepareAction[] {
  const runs = new Map<string, { version: number; placement: Placement }>([
    [v.name, { version: v.version, placement: r.placement }],
  ]);
  const successors: Record<string, PlannedWorkflow> = {};
  for (const chain of chains.successorsOf(v.name)) {
    if (chain.score < PLANNER_DEFAULTS.minSuccessorScore) break; // best first
    const next = predict(chain.workflow);
    if (!next || next.v.name === v.name) continue;
    if (next.v.dag.prewarm?.mode !== 'predictive') continue;
    successors[next.v.name] = { dag: next.v.dag, owners: ownersOf(next.v, next.placement) };
    runs.set(next.v.name, { version: next.v.version, placement: next.placement });
  }
  if ((v.dag.prewarm?.mode ?? 'off') === 'off' && Object.keys(successors).length === 0) return [];
  const actions = chains.plan(
    { dag: v.dag, owners: ownersOf(v, r.placement) },
    () => 0,
    inputBytes,
    successors,
  );
  r.prewarm = {
    mode: v.dag.prewarm?.mode ?? 'off',
    price: chains.price(v.name),
    ...chains.predictions(v.dag, inputBytes),
    prepares: actions.map((a) => ({
      workflow: a.workflow,
      node: a.node,
      worker: a.worker,
      atMs: Math.round(a.atMs),
      reason: a.reason,
      probability: Math.round(a.probability * 1000) / 1000,
      ...(a.count === undefined ? {} : { count: a.count }),
    })),
  };
  const byUrl = new Map<string, PrepareWire[]>();
  for (const a of actions) {
    const run = runs.get(a.workflow);
    const url = run?.placement.workers[a.worker];
    if (run === undefined || url === undefined) continue;
    const list = byUrl.get(url) ?? [];
    list.push({
      workflow: a.workflow,
      version: run.version,
      function: a.function,
      node: a.node,
      startedAt: r.startedAt,
      atMs: a.atMs,
      ttlMs: Math.max(1, Math.round(a.ttlMs ?? 600_000)),
      ...(a.count === undefined ? {} : { count: a.count }),
    });
    byUrl.set(url, list);
  }
  for (const [url, prepares] of byUrl)
    http
      .json(`${url}/v1/prepares`, 'POST', { prepares }, 5_000)
      .catch((err: unknown) => logger.debug({ err, url }, 'prepares not delivered'));
  return actions;
}

/** Node id → the worker that owns it under `placement`. */
function ownersOf(v: WorkflowVersion, placement: Placement): Record<string, string> {
  const owners: Record<string, string> = {};
  for (const [node, group] of Object.entries(v.partition.groupOf)) {
    const worker = placement.groups[group];
    if (worker !== undefined) owners[node] = worker;
  }
  return owners;
}
