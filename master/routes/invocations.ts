/** Invocation routes (docs/design.md §9): start (wait or not), read with timeline, cancel. */
import jsonata from 'jsonata';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../shared/errors.js';
import type { TypedApp } from '../../shared/http.js';
import type { InvocationId } from '../../shared/ids.js';
import { InvocationIdField } from '../../shared/schema/wire.js';
import { TRACEPARENT_HEADER } from '../../shared/tracing.js';
import { publicView } from '../../shared/invocation/record.js';
import { InvokeBody, invocationTimeoutMs, waitAnswer } from '../../shared/schema/invocation-api.js';
import { authorize, principalOf, type Principal } from '../../shared/auth.js';
import { tenantOfWorkflow } from '../../shared/tenancy.js';
import type { InvocationRecord } from '../../shared/invocation/record.js';
import { limitsFor, workflowOf, type MasterContext } from './context.js';

/** Longest an invocation waits for its workflow's model set to load before deciding without. */
const READY_WAIT_MS = 1_000;

const FeedbackBody = Type.Object(
  { rating: Type.Number({ description: 'the rating, bound to $feedback in learn.reward' }) },
  { additionalProperties: false },
);

export function invocationRoutes(app: TypedApp, c: MasterContext): void {
  app.post(
    '/v1/workflows/:name/invocations',
    {
      schema: {
        params: Type.Object({ name: Type.String() }),
        body: Type.Union([InvokeBody, Type.Null()]),
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      authorize(p, 'invoke');
      const body: InvokeBody = req.body ?? {};
      const timeoutMs = invocationTimeoutMs(body, c.config);
      const name = workflowOf(p, req.params.name);
      c.catalog.latest(name);
      // Admitted last, after every check that could refuse it: a refusal uses no slot.
      const release = c.gate.admit(p.tenant, limitsFor(c, p.tenant));
      let r: InvocationRecord;
      try {
        const traceparent = req.headers[TRACEPARENT_HEADER];
        r = await startOne(
          c,
          name,
          body,
          timeoutMs,
          typeof traceparent === 'string' ? traceparent : undefined,
        );
      } catch (err) {
        release();
        throw err;
      }
      void r.done.then(release);
      if (body.wait === false) return reply.status(202).send({ invocationId: r.id });
      await r.done;
      return reply.status(200).send(waitAnswer(r));
    },
  );

  app.post(
    '/v1/invocations/:id/feedback',
    { schema: { params: Type.Object({ id: InvocationIdField }), body: FeedbackBody } },
    async (req) => {
      const id = req.params.id;
      const r = c.invocations.get(id);
      if (!r.composition || !c.compose)
        throw new AppError(
          'CONFLICT',
          `invocation ${id} was not composed (its workflow has no choose: steps); feedback goes to composed invocations`,
        );
      const { reward } = await c.compose.feedback(id, req.body.rating);
      return { invocationId: id, accepted: true, rating: req.body.rating, reward };
    },
  );

  app.get(
    '/v1/invocations/:id',
    { schema: { params: Type.Object({ id: InvocationIdField }) } },
    (req) => {
      const p = principalOf(req);
      authorize(p, 'read');
      return publicView(owned(c, p, req.params.id));
    },
  );

  app.post(
    '/v1/invocations/:id/cancel',
    { schema: { params: Type.Object({ id: InvocationIdField }) } },
    (req) => {
      const p = principalOf(req);
      authorize(p, 'invoke');
      const id = owned(c, p, req.params.id).id;
      return publicView(c.invocations.cancel(id), false);
    },
  );
}

/** The invocation, if the principal's tenant owns it; another tenant's is not found, alike. */
export function owned(c: MasterContext, p: Principal, id: InvocationId): InvocationRecord {
  const r = c.invocations.get(id);
  if (!p.cluster && tenantOfWorkflow(r.workflow) !== p.tenant)
    throw new AppError(
      'INVOCATION_NOT_FOUND',
      `invocation ${JSON.stringify(id)} is unknown (finished invocations are kept for the last ${c.config.retainInvocations})`,
    );
  return r;
}

async function startOne(
  c: MasterContext,
  name: string,
  body: InvokeBody,
  timeoutMs: number,
  traceparent: string | undefined,
): Promise<InvocationRecord> {
  // Harvesting decides from cached models; the first invocation of a workflow waits for its
  // model set's load (one Redis read, at most READY_WAIT_MS), later ones never do.
  let dataBytes = body.dataBytes;
  if (c.harvest) {
    const v = c.catalog.latest(name);
    await c.harvest.ready(v.name, READY_WAIT_MS);
    // The workflow's `inputSize:` says how much data a small input stands for.
    if (dataBytes === undefined && v.dag.inputSize !== undefined)
      dataBytes = await declaredInputSize(v.dag.inputSize, body.input ?? null, v.name);
  }
  return c.invocations.start(name, {
    input: body.input ?? null,
    timeoutMs,
    ...(body.idempotencyKey !== undefined ? { idempotencyKey: body.idempotencyKey } : {}),
    ...(body.profile !== undefined ? { profile: body.profile } : {}),
    ...(dataBytes !== undefined ? { dataBytes } : {}),
    ...(body.subTenant !== undefined ? { subTenant: body.subTenant } : {}),
    ...(body.session !== undefined ? { session: body.session } : {}),
    ...(body.demand !== undefined ? { demand: body.demand } : {}),
    ...(traceparent !== undefined ? { traceparent } : {}),
  });
}

/** The workflow's `inputSize:` over `input`: a whole number of bytes, or 400 saying what it gave. */
async function declaredInputSize(expr: string, input: unknown, workflow: string): Promise<number> {
  let value: unknown;
  try {
    value = await jsonata(expr).evaluate(input);
  } catch (err) {
    throw new AppError(
      'INPUT_INVALID',
      `workflow ${workflow}: inputSize ${JSON.stringify(expr)} failed on this input: ${(err as Error).message}`,
    );
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new AppError(
      'INPUT_INVALID',
      `workflow ${workflow}: inputSize ${JSON.stringify(expr)} gave ${JSON.stringify(value) ?? 'nothing'} for this input; it must give a number of bytes ≥ 0`,
    );
  return Math.round(value);
}
