// Video analytics, stage 1 ("decoder"): renders the clip's frames — deterministic synthetic RGB
// from the seed: a drifting gradient, moving discs and boxes, sensor noise — and deals them to the
// two recognizers as contiguous runs of unequal length (shares 0.8/0.2 by default). The skew of
// the parallel stage comes from here.

/** mulberry32: a small, fast, deterministic 32-bit PRNG. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The clip's moving objects: a function of the seed only, so every frame agrees on them. */
function scene(seed, width, height) {
  const next = prng(seed ^ 0x5eed);
  const count = 3 + Math.floor(next() * 4);
  return Array.from({ length: count }, () => ({
    kind: next() < 0.5 ? 'disc' : 'box',
    x: next() * width,
    y: next() * height,
    vx: (next() - 0.5) * 8,
    vy: (next() - 0.5) * 6,
    size: 8 + next() * Math.min(width, height) * 0.15,
    rgb: [140 + next() * 115, 140 + next() * 115, 140 + next() * 115].map(Math.floor),
  }));
}

function wrap(v, n) {
  return ((v % n) + n) % n;
}

/** Frame `index` of the clip as packed RGB (width × height × 3 bytes). */
export function renderFrame(seed, index, width, height, objects) {
  const rgb = Buffer.allocUnsafe(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      rgb[p] = (x * 96) / width + index;
      rgb[p + 1] = (y * 80) / height + 20;
      rgb[p + 2] = 60 + ((x + y + index * 3) & 31);
    }
  }
  for (const o of objects) {
    const cx = wrap(o.x + o.vx * index, width);
    const cy = wrap(o.y + o.vy * index, height);
    const r = o.size / 2;
    const x0 = Math.max(0, Math.floor(cx - r));
    const x1 = Math.min(width - 1, Math.ceil(cx + r));
    const y0 = Math.max(0, Math.floor(cy - r));
    const y1 = Math.min(height - 1, Math.ceil(cy + r));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        if (o.kind === 'disc' && (x - cx) ** 2 + (y - cy) ** 2 > r * r) continue;
        const p = (y * width + x) * 3;
        rgb[p] = o.rgb[0];
        rgb[p + 1] = o.rgb[1];
        rgb[p + 2] = o.rgb[2];
      }
    }
  }
  // Sensor noise, one draw per pixel (shared by its channels).
  const noise = prng((seed * 7919 + index) >>> 0);
  for (let p = 0; p < rgb.length; p += 3) {
    const d = Math.floor(noise() * 17) - 8;
    for (let c = p; c < p + 3; c++) {
      const v = rgb[c] + d;
      rgb[c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return rgb;
}

/** First frame index of each set: contiguous runs proportional to the shares. */
export function frameCuts(frames, shares) {
  const total = shares.reduce((s, x) => s + x, 0);
  const cuts = [0];
  let acc = 0;
  for (const share of shares.slice(0, -1)) {
    acc += share;
    cuts.push(Math.round((frames * acc) / total));
  }
  cuts.push(frames);
  return cuts;
}

export default async function decode(input) {
  const seed = Number(input.seed ?? 1);
  const frames = Number(input.frames ?? 30);
  const width = Number(input.width ?? 640);
  const height = Number(input.height ?? 360);
  const blurPasses = Number(input.blurPasses ?? 12);
  const shares = input.shares ?? [0.8, 0.2];
  if (!Number.isInteger(frames) || frames < shares.length)
    throw new RangeError(`frames must be an integer of at least ${shares.length}`);
  const objects = scene(seed, width, height);
  const cuts = frameCuts(frames, shares);
  const sets = shares.map((_, branch) => {
    const list = [];
    for (let index = cuts[branch]; index < cuts[branch + 1]; index++)
      list.push({ index, rgb: renderFrame(seed, index, width, height, objects) });
    return { branch, width, height, blurPasses, frames: list };
  });
  return { frames, width, height, sets };
}
