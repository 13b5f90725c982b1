// Video analytics, stage 2 (two of them, one per frame set): per frame, in plain JS over typed
// arrays — luma, `blurPasses` 3x3 Gaussian blurs, Sobel gradients, an edge count and an
// orientation histogram, a luma histogram, and "objects": connected bright blobs of the blurred
// frame. The work is proportional to frames × pixels × passes.
//
// `threads` (in the frame set, default 1): with 1 every frame is analysed on the calling thread
// (the single-threaded control); with N > 1 (0: the machine's cores) the frames are dealt to N
// worker_threads threads — the same work, over the cores the function is given.
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const MIN_OBJECT_PIXELS = 40;

function luma(rgb, n) {
  const out = new Float32Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 3)
    out[i] = 0.299 * rgb[p] + 0.587 * rgb[p + 1] + 0.114 * rgb[p + 2];
  return out;
}

/** One 3x3 Gaussian pass ([1 2 1] ⊗ [1 2 1] / 16); borders are copied. */
function blur(src, dst, w, h) {
  dst.set(src);
  for (let y = 1; y < h - 1; y++) {
    const r = y * w;
    for (let x = 1; x < w - 1; x++) {
      const i = r + x;
      dst[i] =
        (src[i - w - 1] +
          2 * src[i - w] +
          src[i - w + 1] +
          2 * src[i - 1] +
          4 * src[i] +
          2 * src[i + 1] +
          src[i + w - 1] +
          2 * src[i + w] +
          src[i + w + 1]) /
        16;
    }
  }
}

/** Sobel magnitude; edge pixels (magnitude over `threshold`) also vote for one of 8 orientations. */
function sobel(g, w, h, threshold) {
  const orient = new Array(8).fill(0);
  let edges = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const gx =
        g[i - w + 1] + 2 * g[i + 1] + g[i + w + 1] - g[i - w - 1] - 2 * g[i - 1] - g[i + w - 1];
      const gy =
        g[i + w - 1] + 2 * g[i + w] + g[i + w + 1] - g[i - w - 1] - 2 * g[i - w] - g[i - w + 1];
      if (Math.sqrt(gx * gx + gy * gy) > threshold) {
        edges++;
        const a = Math.atan2(gy, gx); // -π..π
        orient[Math.min(7, Math.floor(((a + Math.PI) / (2 * Math.PI)) * 8))]++;
      }
    }
  }
  return { edges, orient };
}

/** Bright blobs: 4-connected components of pixels above `level`, at least MIN_OBJECT_PIXELS big. */
function objects(g, w, h, level) {
  const seen = new Uint8Array(w * h);
  const stack = new Int32Array(w * h);
  let count = 0;
  for (let start = 0; start < g.length; start++) {
    if (seen[start] || g[start] <= level) continue;
    let top = 0;
    let size = 0;
    stack[top++] = start;
    seen[start] = 1;
    while (top > 0) {
      const i = stack[--top];
      size++;
      const x = i % w;
      const next = [x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, i - w, i + w];
      for (const j of next) {
        if (j < 0 || j >= g.length || seen[j] || g[j] <= level) continue;
        seen[j] = 1;
        stack[top++] = j;
      }
    }
    if (size >= MIN_OBJECT_PIXELS) count++;
  }
  return count;
}

export function analyzeFrame(rgb, w, h, blurPasses) {
  const n = w * h;
  let a = luma(rgb, n);
  let b = new Float32Array(n);
  for (let k = 0; k < blurPasses; k++) {
    blur(a, b, w, h);
    [a, b] = [b, a];
  }
  const hist = new Array(16).fill(0);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += a[i];
    hist[Math.min(15, a[i] >> 4)]++;
  }
  const mean = sum / n;
  const { edges, orient } = sobel(a, w, h, 96);
  return {
    meanLuma: Math.round(mean * 1000) / 1000,
    edges,
    objects: objects(a, w, h, mean + 40),
    lumaHist: hist,
    orientHist: orient,
  };
}

const THREAD = 'faasflow-harvest-video-frames';

function analyzeAll(frames, width, height, blurPasses) {
  return frames.map(({ index, rgb }) => ({
    index,
    ...analyzeFrame(rgb, width, height, blurPasses),
  }));
}

// In a worker thread of the pool below: one share of the frames per message.
if (!isMainThread && workerData?.kind === THREAD) {
  parentPort.on('message', (job) => {
    try {
      parentPort.postMessage({
        result: analyzeAll(job.frames, job.width, job.height, job.blurPasses),
      });
    } catch (err) {
      parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) });
    }
  });
}

/**
 * A pool of threads running this very module (see the thread side above), kept across calls:
 * a warm sandbox reuses its threads, so a call pays no thread start-up (tens of ms of CPU each).
 * Idle threads are unref'd and never keep the process alive; one that fails is dropped.
 */
const idle = [];

function inThread(job) {
  return new Promise((resolve, reject) => {
    const w = idle.pop() ?? new Worker(new URL(import.meta.url), { workerData: { kind: THREAD } });
    w.ref();
    const done = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    const onMessage = (m) => {
      done();
      w.unref();
      idle.push(w);
      if (m.error !== undefined) reject(new Error(m.error));
      else resolve(m.result);
    };
    const onError = (err) => {
      done();
      reject(err);
    };
    const onExit = (code) => {
      done();
      reject(new Error(`${THREAD} thread exited with code ${code}`));
    };
    w.on('message', onMessage);
    w.once('error', onError);
    w.once('exit', onExit);
    w.postMessage(job);
  });
}

export default async function recognize(set) {
  const { branch, width, height, blurPasses } = set;
  const t = set.threads ?? 1;
  if (!Number.isInteger(t) || t < 0 || t > 256)
    throw new RangeError('threads must be an integer from 0 (the machine’s cores) to 256');
  const threads = Math.min(t === 0 ? availableParallelism() : t, set.frames.length);
  if (threads <= 1)
    return { branch, width, height, frames: analyzeAll(set.frames, width, height, blurPasses) };
  const dealt = Array.from({ length: threads }, () => []);
  set.frames.forEach((f, i) => dealt[i % threads].push(f));
  const parts = await Promise.all(
    dealt.map((frames) => inThread({ frames, width, height, blurPasses })),
  );
  const frames = parts.flat().sort((a, b) => a.index - b.index);
  return { branch, width, height, threads, frames };
}
