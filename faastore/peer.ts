/**
 * The peer tier, reader side: objects held by another worker (no Redis configured) are read
 * through the injected `PeerFetcher`, which the worker implements over HTTP. Errors come back
 * as AppErrors naming the object and the worker that holds it.
 */
import { AppError } from '../shared/errors.js';
import type { PeerFetcher, StoredRef } from './store.js';

type PeerRef = Extract<StoredRef, { tier: 'peer' }>;

export async function fetchFromPeer(
  fetcher: PeerFetcher,
  ref: PeerRef,
  timeoutMs: number,
): Promise<Buffer> {
  try {
    return await fetcher.fetch(ref.url, ref.key, timeoutMs);
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError(
      'WORKER_UNREACHABLE',
      `cannot fetch object ${ref.key} from worker ${ref.worker} at ${ref.url}: ${
        err instanceof Error ? err.message : String(err)
      }`,
      { cause: err, details: { key: ref.key, worker: ref.worker, url: ref.url } },
    );
  }
}
