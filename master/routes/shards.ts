/**
 * `GET /v1/workflows/:name/shards` (docs/guides/sharding.md): the last plans of the workflow's
 * sharded foreach nodes, newest first — shards, items per shard, estimate vs actual — and the
 * routing table of each keyed function with its load per range, forecast vs actual per cycle
 * and the re-sharding events — and which workers run hot, with the flips and the moves of this
 * workflow's groups off them.
 */
import { Type } from '@sinclair/typebox';
import { authorize, principalOf } from '../../shared/auth.js';
import type { TypedApp } from '../../shared/http.js';
import { lastShardPlans } from '../../shared/shard/plans.js';
import { workflowOf, type MasterContext } from './context.js';

export function shardRoutes(app: TypedApp, c: MasterContext): void {
  app.get(
    '/v1/workflows/:name/shards',
    {
      schema: {
        params: Type.Object({ name: Type.String() }),
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 20 }),
        }),
      },
    },
    (req) => {
      const p = principalOf(req);
      authorize(p, 'read');
      const name = workflowOf(p, req.params.name);
      // Unknown workflows answer 404 (WORKFLOW_NOT_FOUND) like the other workflow reads.
      c.catalog.latest(name);
      return {
        workflow: req.params.name,
        plans: lastShardPlans(c.invocations.recordsOf(name), req.query.limit),
        keyed: c.keyed?.snapshot(name) ?? [],
        hot: c.hot?.snapshot(name) ?? { workers: [], events: [] },
      };
    },
  );
}
