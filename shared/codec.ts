/**
 * Binary encoding of function values: JSON values that may contain Buffers anywhere.
 *
 * Everything that moves between functions (FaaStore objects, trigger payloads, sandbox IPC) is a
 * `Value` encoded with `encodeValue` into one Buffer. Binary parts are never base64'd or copied
 * into JSON: they travel as attachments after a small JSON header, and `decodeValue` returns them
 * as zero-copy slices of the encoded buffer.
 *
 * Layout (byte 0 is the tag):
 * - 0x00 raw bytes: the value is one Buffer; bytes 1.. are it.
 * - 0x01 JSON: bytes 1.. are UTF-8 JSON.
 * - 0x02 JSON + attachments: u32 json length, JSON with `{"$faasflow.bin": i}` placeholders,
 *   u32 attachment count, that many u32 lengths, then the attachments back to back.
 */

export type Value = unknown;

const TAG_RAW = 0;
const TAG_JSON = 1;
const TAG_ATTACH = 2;
const PLACEHOLDER = '$faasflow.bin';

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

export function encodeValue(value: Value): Buffer {
  if (isBytes(value)) {
    const out = Buffer.allocUnsafe(value.byteLength + 1);
    out[0] = TAG_RAW;
    out.set(value, 1);
    return out;
  }
  const attachments: Uint8Array[] = [];
  // Swap Buffers for placeholders before stringify: Buffer.toJSON would first expand each one
  // into an array of numbers (180 ms and hundreds of MB for a 20 MB Buffer).
  const json = JSON.stringify(
    extractBytes(value === undefined ? null : value, attachments, new Set()),
  );
  const jsonBytes = Buffer.from(json ?? 'null', 'utf8');
  if (attachments.length === 0) {
    const out = Buffer.allocUnsafe(jsonBytes.length + 1);
    out[0] = TAG_JSON;
    jsonBytes.copy(out, 1);
    return out;
  }
  let total = 1 + 4 + jsonBytes.length + 4 + 4 * attachments.length;
  for (const a of attachments) total += a.byteLength;
  const out = Buffer.allocUnsafe(total);
  out[0] = TAG_ATTACH;
  let at = 1;
  out.writeUInt32LE(jsonBytes.length, at);
  at += 4;
  jsonBytes.copy(out, at);
  at += jsonBytes.length;
  out.writeUInt32LE(attachments.length, at);
  at += 4;
  for (const a of attachments) {
    out.writeUInt32LE(a.byteLength, at);
    at += 4;
  }
  for (const a of attachments) {
    out.set(a, at);
    at += a.byteLength;
  }
  return out;
}

/** Returns `value` with every byte array replaced by a placeholder; shares what has none. */
function extractBytes(value: unknown, out: Uint8Array[], path: Set<object>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (isBytes(value)) {
    out.push(value);
    return { [PLACEHOLDER]: out.length - 1 };
  }
  if (path.has(value)) throw new TypeError('cannot encode a value with a cycle');
  if (Array.isArray(value)) {
    path.add(value);
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const r = extractBytes(v, out, path);
      if (r !== v) copy ??= value.slice();
      if (copy) copy[i] = r;
    }
    path.delete(value);
    return copy ?? value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
    return value;
  path.add(value);
  let copy: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value)) {
    const r = extractBytes(v, out, path);
    if (r !== v) copy ??= { ...value };
    if (copy) copy[k] = r;
  }
  path.delete(value);
  return copy ?? value;
}

export function decodeValue(buf: Buffer): Value {
  if (buf.length === 0) throw new RangeError('cannot decode an empty buffer');
  const tag = buf[0];
  if (tag === TAG_RAW) return buf.subarray(1);
  if (tag === TAG_JSON) return JSON.parse(buf.toString('utf8', 1)) as Value;
  if (tag !== TAG_ATTACH) throw new RangeError(`unknown value tag ${tag}`);
  let at = 1;
  const jsonLength = buf.readUInt32LE(at);
  at += 4;
  const json = buf.toString('utf8', at, at + jsonLength);
  at += jsonLength;
  const count = buf.readUInt32LE(at);
  at += 4;
  const lengths: number[] = [];
  for (let i = 0; i < count; i++) {
    lengths.push(buf.readUInt32LE(at));
    at += 4;
  }
  const parts: Buffer[] = [];
  for (const length of lengths) {
    if (at + length > buf.length) throw new RangeError('truncated value attachment');
    parts.push(buf.subarray(at, at + length));
    at += length;
  }
  return JSON.parse(json, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const index = (v as Record<string, unknown>)[PLACEHOLDER];
      if (typeof index === 'number' && Object.keys(v).length === 1) {
        const part = parts[index];
        if (part === undefined) throw new RangeError(`missing value attachment ${index}`);
        return part;
      }
    }
    return v;
  }) as Value;
}

/** Bytes the value takes when encoded, without encoding large attachments. */
export function encodedSize(value: Value): number {
  if (isBytes(value)) return value.byteLength + 1;
  return encodeValue(value).length;
}
