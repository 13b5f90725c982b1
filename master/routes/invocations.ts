/** Invocation routes (docs/design.md §9): start (wait or not), read with timeline, cancel. */
import { Type } from '@sinclair/typebox';
import { AppError } from '../../shared/errors.js';
import type { TypedApp } from '../../shared/http.js';
import { publicView } from '../../shared/invocation/record.js';
import { InvokeBody, invocationTimeoutMs, waitAnswer } from '../../shared/schema/invocation-api.js';
import { InvocationIdField } from '../../shared/schema/wire.js';
import { TRACEPARENT_HEADER } from '../../shared/tracing.js';
import type { MasterContext } from './context.js';
import { Expressions } from '../../shared/expressions.js';

const INPUT_SIZE = new Expressions();

/** Longest an invocation waits for its workflow's model set to load before deciding without. */
const READY_WAIT_MS = 1_000;

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
      const body: InvokeBody = req.body ?? {};
      const timeoutMs = invocationTimeoutMs(body, c.config);
      const name = req.params.name;
      const traceparent = req.headers[TRACEPARENT_HEADER];
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
      const r = await c.invocations.start(name, {
        input: body.input ?? null,
        timeoutMs,
        ...(body.idempotencyKey !== undefined ? { idempotencyKey: body.idempotencyKey } : {}),
        ...(body.profile !== undefined ? { profile: body.profile } : {}),
        ...(dataBytes !== undefined ? { dataBytes } : {}),
        ...(body.demand !== undefined ? { demand: body.demand } : {}),
        ...(typeof traceparent === 'string' ? { traceparent } : {}),
      });
      if (body.wait === false) return reply.status(202).send({ invocationId: r.id });
      await r.done;
      return reply.status(200).send(waitAnswer(r));
    },
  );

  app.get(
    '/v1/invocations/:id',
    { schema: { params: Type.Object({ id: InvocationIdField }) } },
    (req) => publicView(c.invocations.get(req.params.id)),
  );

  app.post(
    '/v1/invocations/:id/cancel',
    { schema: { params: Type.Object({ id: InvocationIdField }) } },
    (req) => publicView(c.invocations.cancel(req.params.id), false),
  );
}

/** The workflow's `inputSize:` over `input`: a whole number of bytes, or 400 saying what it gave. */
async function declaredInputSize(expr: string, input: unknown, workflow: string): Promise<number> {
  let value: unknown;
  try {
    value = await INPUT_SIZE.evaluate(expr, input, `workflow ${workflow}: inputSize`);
  } catch (err) {
    throw new AppError('INPUT_INVALID', AppError.from(err).message);
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new AppError(
      'INPUT_INVALID',
      `workflow ${workflow}: inputSize ${JSON.stringify(expr)} gave ${JSON.stringify(value) ?? 'nothing'} for this input; it must give a number of bytes ≥ 0`,
    );
  return Math.round(value);
}
