// ParallelAES, stage 2 (one per segment): AES-256-CBC encrypts the segment `rounds` times, each
// round over the previous round's ciphertext, then decrypts all rounds back and checks it got the
// plaintext. CPU-bound, and the work is proportional to segment bytes × rounds.
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';

const BLOCK = 16;

/** Key and first IV come from the seed and the segment index, so a run is reproducible. */
export function keyMaterial(seed, index) {
  const key = createHash('sha256').update(`faasflow-harvest-aes:key:${seed}`).digest();
  const iv = createHash('sha256')
    .update(`faasflow-harvest-aes:iv:${seed}:${index}`)
    .digest()
    .subarray(0, BLOCK);
  return { key, iv };
}

function cbc(kind, key, iv, data) {
  const c =
    kind === 'encrypt'
      ? createCipheriv('aes-256-cbc', key, iv)
      : createDecipheriv('aes-256-cbc', key, iv);
  c.setAutoPadding(false);
  const head = c.update(data);
  const tail = c.final();
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}

export default async function encrypt(segment) {
  const { index, rounds, seed } = segment;
  const plain = Buffer.from(segment.text);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new RangeError('rounds must be an integer >= 1');
  // Zero-pad to whole blocks; padding is part of what is encrypted, so it is counted in `bytes`.
  const padded = Buffer.alloc(Math.ceil(plain.length / BLOCK) * BLOCK || BLOCK);
  plain.copy(padded);
  const { key, iv } = keyMaterial(seed, index);
  const ivs = [];
  let data = padded;
  let nextIv = iv;
  for (let r = 0; r < rounds; r++) {
    ivs.push(nextIv);
    data = cbc('encrypt', key, nextIv, data);
    // Chain rounds like CBC chains blocks: the next round's IV is this round's last block.
    nextIv = Buffer.from(data.subarray(data.length - BLOCK));
  }
  const digest = createHash('sha256').update(data).digest('hex');
  let back = data;
  for (let r = rounds - 1; r >= 0; r--) back = cbc('decrypt', key, ivs[r], back);
  return {
    index,
    offset: segment.offset,
    bytes: plain.length,
    rounds,
    digest,
    verified: back.equals(padded),
  };
}
