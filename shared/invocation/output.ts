/**
 * Assembling an invocation's output from its sinks, for whichever process coordinates it (the
 * master, or the worker that took the invocation): inline refs decode in place — sink outputs up
 * to the workers' `sinkInlineMaxBytes` arrive inline in the sink report, so nothing is fetched
 * back — and the rest are fetched from the sink's worker (which reads Redis or its own memory).
 * `fetch` reads an object this process holds itself without a request (a worker's own store).
 */
import { decodeValue } from '../codec.js';
import type { WorkflowDag } from '../dag/types.js';
import { assemble, type Arrival } from '../dag/template.js';
import type { Expressions } from '../expressions.js';
import { AppError } from '../errors.js';
import type { PeerClient } from '../channel/peers.js';
import { backoffMs, delay } from '../retry.js';
import type { Placement, StoredRef } from '../schema/wire.js';
import { toJsonSafe } from './record.js';

/** What output assembly needs of a workflow version. */
export interface OutputShape {
  dag: Pick<WorkflowDag, 'output' | 'outputExpr'>;
  groupOf: Readonly<Record<string, number>>;
}

export async function assembleOutput(
  peers: PeerClient,
  exprs: Expressions,
  v: OutputShape,
  placement: Placement,
  sinkOutputs: ReadonlyMap<string, StoredRef | null>,
  local?: (ref: StoredRef) => Promise<Buffer> | undefined,
): Promise<unknown> {
  const values = new Map<string, Arrival>();
  await Promise.all(
    [...sinkOutputs].map(async ([node, ref]) => {
      if (ref === null) return values.set(node, { skip: true });
      const buf =
        ref.tier === 'inline'
          ? Buffer.from(ref.data, 'base64')
          : await (local?.(ref) ?? fetchObject(peers, fetchUrl(v, placement, node, ref), ref));
      return values.set(node, { skip: false, value: decodeValue(buf) });
    }),
  );
  let out = assemble(v.dag.output, (n) => values.get(n), null);
  if (v.dag.outputExpr !== undefined)
    out = await exprs.evaluate(v.dag.outputExpr, out, 'workflow output');
  return toJsonSafe(out ?? null);
}

/**
 * Where to read a sink's output: a peer ref names its holder; anything else is read through the
 * worker that owns the sink's group now (after a re-placement, a live one that reaches Redis).
 */
function fetchUrl(v: OutputShape, placement: Placement, node: string, ref: StoredRef): string {
  if (ref.tier === 'peer') return ref.url;
  const owner = placement.groups[v.groupOf[node]!]!;
  return placement.workers[owner]!;
}

/** A read: a connection reset by a busy worker is retried (3 attempts) rather than failing the invocation. */
async function fetchObject(peers: PeerClient, url: string, ref: StoredRef): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await peers.fetchObject(url, ref, 30_000);
    } catch (err) {
      const e = AppError.from(err);
      if (attempt < 3 && e.retryable && e.code === 'WORKER_UNREACHABLE') {
        await delay(backoffMs(attempt, { baseMs: 20, maxMs: 200 }));
        continue;
      }
      throw new AppError(
        'STORE_UNAVAILABLE',
        `fetching the output from ${url} failed with ${e.statusCode}: ${e.message.slice(0, 200)}`,
        { cause: e },
      );
    }
  }
}
