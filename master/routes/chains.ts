/**
 * `GET /v1/workflows/:name/chains` (docs/guides/chains.md): what the chain model learned of a
 * workflow — branch probabilities, start offsets, cold times, successors with their scores —
 * and its budget controller's price and waste; `POST /v1/internal/prepares/feedback` is where
 * workers report the memory-seconds their prepared sandboxes held.
 */
import { Type } from '@sinclair/typebox';
import { authorize, principalOf } from '../../shared/auth.js';
import { AppError } from '../../shared/errors.js';
import type { TypedApp } from '../../shared/http.js';
import type { ChainService } from '../chains/service.js';
import { workflowOf, type MasterContext } from './context.js';

const Feedback = Type.Object(
  {
    reports: Type.Array(
      Type.Object({
        workflow: Type.String({ maxLength: 200 }),
        wastedMbS: Type.Number({ minimum: 0 }),
        usedMbS: Type.Number({ minimum: 0 }),
      }),
      { maxItems: 1024 },
    ),
  },
  { additionalProperties: false },
);

export function chainRoutes(app: TypedApp, c: MasterContext): void {
  app.get(
    '/v1/workflows/:name/chains',
    { schema: { params: Type.Object({ name: Type.String() }) } },
    (req) => {
      const p = principalOf(req);
      authorize(p, 'read');
      const v = c.catalog.latest(workflowOf(p, req.params.name));
      return chainsOf(c).view(v.dag);
    },
  );

  app.post('/v1/internal/prepares/feedback', { schema: { body: Feedback } }, (req) => {
    const chains = chainsOf(c);
    for (const r of req.body.reports)
      chains.addFeedback(r.workflow, {
        wastedMbS: r.wastedMbS,
        usedMbS: r.usedMbS,
        totalMbS: r.wastedMbS + r.usedMbS,
      });
    return { accepted: req.body.reports.length };
  });
}

function chainsOf(c: MasterContext): ChainService {
  if (!c.chains)
    throw new AppError('CONFLICT', 'this master keeps no chain model (docs/guides/chains.md)');
  return c.chains;
}
