// Video analytics, stage 3: merges the recognizers' per-frame results in frame order and digests
// them, so two runs of the same input can be compared by one string.
import { createHash } from 'node:crypto';

export default async function aggregate(parts) {
  const frames = parts.flatMap((p) => p.frames).sort((a, b) => a.index - b.index);
  return {
    frames: frames.length,
    perBranch: parts.map((p) => p.frames.length),
    objects: frames.map((f) => f.objects),
    edges: frames.reduce((n, f) => n + f.edges, 0),
    meanLuma:
      Math.round((frames.reduce((s, f) => s + f.meanLuma, 0) / Math.max(1, frames.length)) * 1000) /
      1000,
    digest: createHash('sha256').update(JSON.stringify(frames)).digest('hex'),
  };
}
