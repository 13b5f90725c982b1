// ParallelAES, stage 1: makes the text (deterministically, from the seed) and cuts it into one
// segment per share. The skew of the parallel stage comes from here: with shares 0.6/0.3/0.1 the
// first encryptor gets six times the bytes of the last one.
import { createHash } from 'node:crypto';

const WORDS = (
  'serverless workflow function branch stage parallel harvest idle core memory skew straggler ' +
  'invoke trigger worker master partition group sandbox cgroup quota latency input output ' +
  'profile predict allocate reclaim encrypt cipher block round digest segment text the a of to'
).split(' ');

/** mulberry32: a small, fast, deterministic 32-bit PRNG (the same seed gives the same text). */
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

/** `bytes` of ASCII prose: words from a fixed vocabulary, picked by the seed. */
export function makeText(seed, bytes) {
  const next = prng(seed);
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  while (at < bytes) {
    const word = WORDS[Math.floor(next() * WORDS.length)];
    at += out.write(word, at, 'latin1');
    if (at < bytes) out[at++] = next() < 0.08 ? 0x0a : 0x20;
  }
  return out;
}

/** Byte offsets cutting `bytes` into `shares.length` segments proportional to the shares. */
export function cuts(bytes, shares) {
  const total = shares.reduce((s, x) => s + x, 0);
  const offsets = [0];
  let acc = 0;
  for (const share of shares.slice(0, -1)) {
    acc += share;
    offsets.push(Math.round((bytes * acc) / total));
  }
  offsets.push(bytes);
  return offsets;
}

export default async function split(input) {
  const seed = Number(input.seed ?? 1);
  const textBytes = Number(input.textBytes ?? 65536);
  const rounds = Number(input.rounds ?? 100);
  const shares = input.shares ?? [0.6, 0.3, 0.1];
  if (!Number.isInteger(textBytes) || textBytes < shares.length)
    throw new RangeError(`textBytes must be an integer of at least ${shares.length}`);
  if (!shares.every((s) => typeof s === 'number' && s > 0))
    throw new RangeError('shares must be positive numbers');
  const text = makeText(seed, textBytes);
  const at = cuts(textBytes, shares);
  const segments = shares.map((_, index) => ({
    index,
    seed,
    rounds,
    offset: at[index],
    text: text.subarray(at[index], at[index + 1]),
  }));
  return {
    textBytes,
    textSha256: createHash('sha256').update(text).digest('hex'),
    segments,
  };
}
