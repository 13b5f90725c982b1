// ParallelAES, stage 3: combines the segments' digests, in segment order, into one digest.
import { createHash } from 'node:crypto';

export default async function join(parts) {
  const segments = [...parts].sort((a, b) => a.index - b.index);
  const hash = createHash('sha256');
  for (const s of segments) hash.update(s.digest, 'hex');
  return {
    digest: hash.digest('hex'),
    bytes: segments.reduce((n, s) => n + s.bytes, 0),
    rounds: segments[0]?.rounds ?? 0,
    verified: segments.every((s) => s.verified === true),
    segments: segments.map(({ index, offset, bytes, digest }) => ({
      index,
      offset,
      bytes,
      digest,
    })),
  };
}
