/**
 * Assembling an invocation's output from its sinks: inline refs decode in place, the rest are
 * fetched from the sink's worker (which reads Redis or its own memory).
 */
import jsonata from 'jsonata';
import { decodeValue } from '../../shared/codec.js';
import { assemble, type Arrival } from '../../shared/dag/template.js';
import { AppError } from '../../shared/errors.js';
import type { PeerClient } from '../../shared/channel/peers.js';
import { backoffMs, delay } from '../../shared/retry.js';
import type { Placement, StoredRef } from '../../shared/schema/wire.js';
import type { WorkflowVersion } from '../workflow/catalog.js';
import { toJsonSafe } from './record.js';

export async function assembleOutput(
  peers: PeerClient,
  v: WorkflowVersion,
  placement: Placement,
  sinkOutputs: ReadonlyMap<string, StoredRef | null>,
): Promise<unknown> {
  const values = new Map<string, Arrival>();
  await Promise.all(
    [...sinkOutputs].map(async ([node, ref]) => {
      if (ref === null) return values.set(node, { skip: true });
      const buf =
        ref.tier === 'inline'
          ? Buffer.from(ref.data, 'base64')
          : await fetchObject(peers, fetchUrl(v, placement, node, ref), ref);
      return values.set(node, { skip: false, value: decodeValue(buf) });
    }),
  );
  let out = assemble(v.dag.output, (n) => values.get(n), null);
  if (v.dag.outputExpr !== undefined) {
    try {
      out = (await jsonata(v.dag.outputExpr).evaluate(out)) as unknown;
    } catch (err) {
      throw new AppError(
        'FUNCTION_FAILED',
        `workflow output expression failed: ${(err as Error).message}`,
        { retryable: false },
      );
    }
  }
  return toJsonSafe(out ?? null);
}

/**
 * Where to read a sink's output: a peer ref names its holder; anything else is read through the
 * worker that owns the sink's group now (after a re-placement, a live one that reaches Redis).
 */
function fetchUrl(v: WorkflowVersion, placement: Placement, node: string, ref: StoredRef): string {
  if (ref.tier === 'peer') return ref.url;
  const owner = placement.groups[v.partition.groupOf[node]!]!;
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
