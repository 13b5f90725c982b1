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
  // A ref names a worker's own URL; anything else is a malformed ref, not a worker that is down.
  if (!isHttpUrl(ref.url) || ref.key === '')
    throw new AppError(
      'BAD_REQUEST',
      `peer ref ${JSON.stringify(ref.key)} at ${JSON.stringify(ref.url)} is malformed: url must be the holding worker's http(s) URL and key non-empty`,
      { details: { key: ref.key, worker: ref.worker, url: ref.url } },
    );
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

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}
