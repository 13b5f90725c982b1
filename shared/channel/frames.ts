/**
 * The channel frame format (docs/design.md §4, "Channels"): length-prefixed binary frames over
 * one long-lived byte stream, multiplexed by request id. The sandbox protocol's framing
 * (worker/sandbox/runtime/protocol.ts) extended with an id and flags: a small JSON meta for the
 * control fields and the rest of the frame as raw bytes for object data (never base64'd).
 *
 * Frame layout (integers little-endian):
 *   length u32 (bytes after this field) | type u8 | flags u8 | id u32 |
 *   metaLength u32 | meta (UTF-8 JSON, metaLength bytes; absent when 0) | data (the rest)
 *
 * Pure: no sockets here. `encodeFrame` returns the pieces to write (a large data part is not
 * copied); `FrameDecoder` reassembles frames from arbitrarily split or merged chunks.
 */

import { LengthPrefixedDecoder } from '../framing.js';

export const FRAME_TYPES = { request: 1, response: 2, error: 3, message: 4 } as const;
export type FrameType = keyof typeof FRAME_TYPES;
const TYPE_BY_CODE: readonly (FrameType | undefined)[] = [
  undefined,
  'request',
  'response',
  'error',
  'message',
];

/** The frame carries a data part (an empty data part is not the same as none). */
export const FLAG_DATA = 0x01;
const KNOWN_FLAGS = FLAG_DATA;

/** Bytes before the meta: length, type, flags, id, metaLength. */
export const FRAME_HEADER_BYTES = 4 + 1 + 1 + 4 + 4;
/** Largest frame accepted by default: 1 GiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024 * 1024;
/** Data parts up to this size ride in the header's buffer (one piece to write). */
const COPY_DATA_UP_TO = 16 * 1024;

export interface ChannelFrame {
  type: FrameType;
  /** Request id: responses and errors carry the id of the request they answer; messages 0. */
  id: number;
  /** The control fields as JSON (`undefined` when the frame has no meta). */
  meta: unknown;
  data: Buffer | null;
}

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** The pieces of one frame, to be written in order. */
export function encodeFrame(frame: ChannelFrame): Buffer[] {
  const meta =
    frame.meta === undefined ? EMPTY : Buffer.from(JSON.stringify(frame.meta) ?? 'null', 'utf8');
  const data = frame.data;
  const dataLength = data === null ? 0 : data.length;
  const length = FRAME_HEADER_BYTES - 4 + meta.length + dataLength;
  if (length > 0xffffffff)
    throw new FrameError(`frame of ${length} bytes exceeds the 4 GiB frame limit`);
  if (!Number.isInteger(frame.id) || frame.id < 0 || frame.id > 0xffffffff)
    throw new FrameError(`frame id ${frame.id} is not a u32`);
  const inline = data !== null && dataLength <= COPY_DATA_UP_TO;
  const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES + meta.length + (inline ? dataLength : 0));
  let at = head.writeUInt32LE(length, 0);
  at = head.writeUInt8(FRAME_TYPES[frame.type], at);
  at = head.writeUInt8(data === null ? 0 : FLAG_DATA, at);
  at = head.writeUInt32LE(frame.id, at);
  at = head.writeUInt32LE(meta.length, at);
  at += meta.copy(head, at);
  if (data === null) return [head];
  if (inline) {
    data.copy(head, at);
    return [head];
  }
  return [head, data];
}

const EMPTY = Buffer.alloc(0);

/** Reassembles channel frames from a byte stream. Throws FrameError. */
export class FrameDecoder extends LengthPrefixedDecoder<ChannelFrame> {
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    super({ decodeBody, error: (message) => new FrameError(message), maxFrameBytes });
  }
}

/** Decodes a frame's bytes after its length prefix. */
function decodeBody(body: Buffer): ChannelFrame {
  if (body.length < FRAME_HEADER_BYTES - 4)
    throw new FrameError(`frame of ${body.length} bytes is shorter than its header`);
  const code = body.readUInt8(0);
  const type = TYPE_BY_CODE[code];
  if (type === undefined)
    throw new FrameError(`unknown frame type ${code} (valid: 1 request … 4 message)`);
  const flags = body.readUInt8(1);
  if ((flags & ~KNOWN_FLAGS) !== 0)
    throw new FrameError(`${type} frame has unknown flags 0x${flags.toString(16)}`);
  const id = body.readUInt32LE(2);
  const metaLength = body.readUInt32LE(6);
  const metaEnd = 10 + metaLength;
  if (metaEnd > body.length) throw new FrameError(`${type} frame meta overruns the frame`);
  let meta: unknown;
  if (metaLength > 0) {
    try {
      meta = JSON.parse(body.toString('utf8', 10, metaEnd));
    } catch {
      throw new FrameError(`${type} frame meta is not JSON`);
    }
  }
  const hasData = (flags & FLAG_DATA) !== 0;
  if (!hasData && metaEnd !== body.length)
    throw new FrameError(`${type} frame has ${body.length - metaEnd} stray bytes`);
  return { type, id, meta, data: hasData ? body.subarray(metaEnd) : null };
}
