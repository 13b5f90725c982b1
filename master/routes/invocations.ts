/** Invocation routes (DESIGN §9): start (wait or not), read with timeline, cancel. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../shared/errors.js';
import { publicView } from '../invocations/record.js';
import type { MasterContext } from './context.js';

const InvokeBody = Type.Object(
  {
    input: Type.Optional(Type.Unknown()),
    wait: Type.Optional(Type.Boolean()),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

export function invocationRoutes(app: FastifyInstance, c: MasterContext): void {
  app.post(
    '/v1/workflows/:name/invocations',
    {
      schema: {
        params: Type.Object({ name: Type.String() }),
        body: Type.Union([InvokeBody, Type.Null()]),
      },
    },
    async (req, reply) => {
      const body = (req.body ?? {}) as { input?: unknown; wait?: boolean; timeoutMs?: number };
      const timeoutMs = body.timeoutMs ?? c.config.defaultTimeoutMs;
      if (timeoutMs > c.config.maxTimeoutMs) {
        throw new AppError(
          'BAD_REQUEST',
          `timeoutMs ${timeoutMs} is over the limit of ${c.config.maxTimeoutMs} ms`,
        );
      }
      const r = c.invocations.start((req.params as { name: string }).name, {
        input: body.input ?? null,
        timeoutMs,
      });
      if (body.wait === false) return reply.status(202).send({ invocationId: r.id });
      await r.done;
      const view = publicView(r, false);
      return reply.status(200).send({
        invocationId: r.id,
        status: r.status,
        output: r.status === 'succeeded' ? (r.output ?? null) : null,
        ...(r.error ? { error: r.error } : {}),
        durationMs: view['durationMs'],
      });
    },
  );

  app.get(
    '/v1/invocations/:id',
    { schema: { params: Type.Object({ id: Type.String() }) } },
    (req) => publicView(c.invocations.get((req.params as { id: string }).id)),
  );

  app.post(
    '/v1/invocations/:id/cancel',
    { schema: { params: Type.Object({ id: Type.String() }) } },
    (req) => publicView(c.invocations.cancel((req.params as { id: string }).id), false),
  );
}
