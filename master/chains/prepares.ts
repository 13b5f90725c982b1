/**
 * At an invocation's start on the master, the chain planner's prepares go to their owner workers
 * (the `prepares` op on the worker's channel, or `POST /v1/prepares`; one request per worker, off the start's path; a worker that does not
 * answer just misses them — a prepare is an optimisation, never part of the run). Ingress
 * workers plan theirs the same way (shared/chains/start.ts) from a kit of the master's model.
 *
 * A likely successor workflow (by its chain score) is planned where it would run now
 * (`predict`: its groups' last homes, else a proposal from the live view): its first nodes are
 * prepared from this invocation's start + the learned gap, since its own start is too late for
 * them.
 */
import type { PeerClient } from '../../shared/channel/peers.js';
import type { Logger } from '../../shared/logger.js';
import type { InvocationRecord } from '../../shared/invocation/record.js';
import {
  PLANNER_DEFAULTS,
  planStart,
  type PlacedRun,
  type PrepareAction,
} from '../../shared/chains/index.js';
import type { PredictedRun } from '../invocations/manager.js';
import type { WorkflowVersion } from '../workflow/version.js';
import type { ChainService } from './service.js';

export function sendPrepares(
  chains: ChainService,
  peers: Pick<PeerClient, 'prepares'>,
  logger: Logger,
  r: InvocationRecord,
  v: WorkflowVersion,
  inputBytes: number,
  predict: (workflow: string) => PredictedRun | undefined = () => undefined,
): PrepareAction[] {
  const successors: PlacedRun[] = [];
  for (const chain of chains.successorsOf(v.name)) {
    if (chain.score < PLANNER_DEFAULTS.minSuccessorScore) break; // best first
    const next = predict(chain.workflow);
    if (next) successors.push(placedRun(next.v, next.placement));
  }
  const plan = planStart({
    model: chains.current(),
    price: (workflow) => chains.price(workflow),
    run: placedRun(v, r.placement),
    successors,
    inputBytes,
    startedAt: r.startedAt,
    nowMs: Date.now(),
  });
  if (plan.prewarm) r.prewarm = plan.prewarm;
  for (const [url, prepares] of plan.messages)
    peers
      .prepares(url, prepares, 5_000)
      .catch((err: unknown) => logger.debug({ err, url }, 'prepares not delivered'));
  return plan.actions;
}

function placedRun(v: WorkflowVersion, placement: PlacedRun['placement']): PlacedRun {
  return { dag: v.dag, version: v.version, placement, groupOf: v.partition.groupOf };
}
