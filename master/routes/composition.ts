/**
 * `GET /v1/workflows/:name/composition` (docs/guides/composition.md): the ranked top-N
 * admissible graphs of a composed workflow for a sub-tenant (and, optionally, an input the
 * context features are read from), with expected reward, uncertainty and how many logged
 * decisions of that sub-tenant ran each, and the offline
 * estimates of the learned policy and the default from the decision log.
 */
import { Type } from '@sinclair/typebox';
import { AppError } from '../../shared/errors.js';
import type { TypedApp } from '../../shared/http.js';
import { contextValues } from '../compose/expressions.js';
import type { MasterContext } from './context.js';
import { SUB_TENANT_PATTERN } from '../../shared/tenancy.js';
import type { CompositionRanking } from '../../shared/schema/composition-api.js';

const Query = Type.Object(
  {
    subTenant: Type.Optional(Type.String({ pattern: SUB_TENANT_PATTERN })),
    top: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
    /** JSON of an invocation input, for the context features. */
    input: Type.Optional(Type.String({ maxLength: 65_536 })),
  },
  { additionalProperties: false },
);

export function compositionRoutes(app: TypedApp, c: MasterContext): void {
  app.get(
    '/v1/workflows/:name/composition',
    { schema: { params: Type.Object({ name: Type.String() }), querystring: Query } },
    async (req): Promise<CompositionRanking> => {
      const name = req.params.name;
      const q = req.query;
      const v = c.catalog.latest(name);
      if (!v.composition || !c.compose)
        throw new AppError(
          'CONFLICT',
          `workflow ${name} has no choose: steps, so nothing is composed (docs/guides/composition.md)`,
        );
      let input: unknown = null;
      if (q.input !== undefined) {
        try {
          input = JSON.parse(q.input) as unknown;
        } catch {
          throw new AppError(
            'BAD_REQUEST',
            'input must be JSON (an invocation input), URL-encoded',
          );
        }
      }
      const learner = await c.compose.learner(v);
      const subTenant = q.subTenant ?? 'default';
      const values = await contextValues(learner.spec.learn.context, input);
      const { candidates, ranked } = learner.ranking(values, subTenant, q.top ?? 5);
      const e = learner.estimates();
      const learn = learner.spec.learn;
      // Logged decisions of this sub-tenant per variant: how often each graph ran here.
      const ran = new Map<number, number>();
      for (const d of learner.log)
        if (d.subTenant === subTenant) ran.set(d.variant, (ran.get(d.variant) ?? 0) + 1);
      return {
        workflow: v.name,
        version: v.version,
        subTenant,
        mode: learner.mode,
        modelVersion: learner.version,
        explore: learn.explore,
        context: values,
        variants: learner.spec.variants.length,
        admissible: candidates.length,
        graphs: ranked.map((r, i) => {
          const variant = learner.spec.variants[r.index]!;
          return {
            rank: i + 1,
            variant: variant.label,
            graph: variant.graph.nodes,
            expectedReward: r.expected,
            uncertainty: r.uncertainty,
            decisions: ran.get(r.index) ?? 0,
          };
        }),
        decisions: learner.log.length,
        estimate: { learned: e.learned, default: e.default, promote: learner.promotable() },
      };
    },
  );
}
