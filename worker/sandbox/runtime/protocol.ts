/**
 * The runtime protocol between a worker and the runtime server inside a sandbox: length-prefixed
 * binary frames over any byte stream (a unix socket today; the framing knows nothing of it).
 *
 * Frame layout (all integers little-endian u32 unless noted):
 *   bodyLength | kind (u8) | headerLength | header (UTF-8 JSON) | partCount (u8) |
 *   partLength × partCount | parts back to back
 * The header holds the small scalar fields; encoded values (inputs, outputs) are parts and travel
 * as raw bytes: never base64'd, never copied into JSON. `encodeFrame` returns the pieces to write
 * so a 20 MB input is not copied on send; `FrameDecoder` concatenates a frame's chunks once and
 * hands out parts as slices of it.
 *
 * This file is part of the runtime copied into sandbox images: it imports only node builtins.
 */
import type { SyntheticSpec } from '../../../shared/dag/types.js';
import { LengthPrefixedDecoder } from '../../../shared/framing.js';

/**
 * What the runtime loads: a handler file (absolute path), inline code, or a builtin; and the
 * files it reads into memory before it says it is ready (`preload:`, docs/guides/chains.md).
 */
export type RuntimeSource = (
  | { kind: 'handler'; path: string }
  | { kind: 'code'; code: string }
  | { kind: 'builtin'; builtin: SyntheticSpec }
) & { preload?: PreloadFile[] };

/** A `preload:` file: the name the handler sees (as declared) and where this sandbox reads it. */
export interface PreloadFile {
  name: string;
  path: string;
}

export type Frame =
  | { kind: 'init'; fnName: string; source: RuntimeSource }
  | { kind: 'ready'; pid: number; loadMs: number }
  | {
      kind: 'run';
      id: number;
      invocationId: string;
      node: string;
      attempt: number;
      timeoutMs: number;
      input: Buffer;
      workflowInput: Buffer | null;
    }
  | { kind: 'result'; id: number; output: Buffer; cpuTimeUs: number }
  /** `id` 0 answers `init` (the handler failed to load); run ids start at 1. */
  | { kind: 'error'; id: number; message: string; stack: string; name: string };

export type FrameKind = Frame['kind'];

const KIND_CODES: Record<FrameKind, number> = { init: 1, ready: 2, run: 3, result: 4, error: 5 };
const KIND_BY_CODE: readonly (FrameKind | undefined)[] = [
  undefined,
  'init',
  'ready',
  'run',
  'result',
  'error',
];

/** Line the server prints on stdout once it listens; the worker connects after seeing it. */
export const LISTENING_LINE = 'faasflow-runtime listening';

/** Largest frame body accepted by default: 1 GiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024 * 1024;

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** The pieces of one frame, to be written in order (cork/uncork or writev). */
export function encodeFrame(frame: Frame): Buffer[] {
  let header: unknown;
  let parts: Buffer[];
  switch (frame.kind) {
    case 'init':
      header = { fnName: frame.fnName, source: frame.source };
      parts = [];
      break;
    case 'ready':
      header = { pid: frame.pid, loadMs: frame.loadMs };
      parts = [];
      break;
    case 'run':
      header = {
        id: frame.id,
        invocationId: frame.invocationId,
        node: frame.node,
        attempt: frame.attempt,
        timeoutMs: frame.timeoutMs,
        hasWorkflowInput: frame.workflowInput !== null,
      };
      parts = frame.workflowInput === null ? [frame.input] : [frame.input, frame.workflowInput];
      break;
    case 'result':
      header = { id: frame.id, cpuTimeUs: frame.cpuTimeUs };
      parts = [frame.output];
      break;
    case 'error':
      header = { id: frame.id, message: frame.message, stack: frame.stack, name: frame.name };
      parts = [];
      break;
    default:
      return unknownKind(frame);
  }
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefixLength = 4 + 1 + 4 + headerBytes.length + 1 + 4 * parts.length;
  let bodyLength = prefixLength - 4;
  for (const p of parts) bodyLength += p.length;
  if (bodyLength > 0xffffffff) {
    throw new ProtocolError(`frame of ${bodyLength} bytes exceeds the 4 GiB frame limit`);
  }
  const prefix = Buffer.allocUnsafe(prefixLength);
  let at = prefix.writeUInt32LE(bodyLength, 0);
  at = prefix.writeUInt8(KIND_CODES[frame.kind], at);
  at = prefix.writeUInt32LE(headerBytes.length, at);
  at += headerBytes.copy(prefix, at);
  at = prefix.writeUInt8(parts.length, at);
  for (const p of parts) at = prefix.writeUInt32LE(p.length, at);
  // Small parts ride in the prefix: one write instead of several for the common tiny frame.
  let small = 0;
  for (const p of parts) small += p.length;
  if (small <= 16 * 1024) return [Buffer.concat([prefix, ...parts], prefixLength + small)];
  return [prefix, ...parts];
}

function unknownKind(frame: never): never {
  throw new ProtocolError(`unknown frame kind ${JSON.stringify(frame)}`);
}

/** Reassembles sandbox frames from a byte stream. Throws ProtocolError. */
export class FrameDecoder extends LengthPrefixedDecoder<Frame> {
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    super({ decodeBody, error: (message) => new ProtocolError(message), maxFrameBytes });
  }
}

function decodeBody(body: Buffer): Frame {
  if (body.length < 1 + 4 + 1)
    throw new ProtocolError(`frame body of ${body.length} bytes is too short`);
  const code = body.readUInt8(0);
  const kind = KIND_BY_CODE[code];
  if (kind === undefined) throw new ProtocolError(`unknown frame kind code ${code}`);
  const headerLength = body.readUInt32LE(1);
  let at = 5 + headerLength;
  if (at + 1 > body.length) throw new ProtocolError(`${kind} frame header overruns the frame`);
  const header = parseHeader(kind, body.toString('utf8', 5, at));
  const partCount = body.readUInt8(at);
  at += 1;
  const lengths: number[] = [];
  for (let i = 0; i < partCount; i++) {
    if (at + 4 > body.length)
      throw new ProtocolError(`${kind} frame part table overruns the frame`);
    lengths.push(body.readUInt32LE(at));
    at += 4;
  }
  const parts: Buffer[] = [];
  for (const length of lengths) {
    if (at + length > body.length) throw new ProtocolError(`${kind} frame part overruns the frame`);
    parts.push(body.subarray(at, at + length));
    at += length;
  }
  if (at !== body.length)
    throw new ProtocolError(`${kind} frame has ${body.length - at} stray bytes`);
  return buildFrame(kind, header, parts);
}

type Header = Record<string, unknown>;

function parseHeader(kind: FrameKind, text: string): Header {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError(`${kind} frame header is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError(`${kind} frame header must be a JSON object`);
  }
  return value as Header;
}

function buildFrame(kind: FrameKind, h: Header, parts: Buffer[]): Frame {
  switch (kind) {
    case 'init':
      expectParts(kind, parts, 0);
      return { kind, fnName: str(kind, h, 'fnName'), source: source(h['source']) };
    case 'ready':
      expectParts(kind, parts, 0);
      return { kind, pid: num(kind, h, 'pid'), loadMs: num(kind, h, 'loadMs') };
    case 'run': {
      const hasWorkflowInput = h['hasWorkflowInput'] === true;
      expectParts(kind, parts, hasWorkflowInput ? 2 : 1);
      return {
        kind,
        id: num(kind, h, 'id'),
        invocationId: str(kind, h, 'invocationId'),
        node: str(kind, h, 'node'),
        attempt: num(kind, h, 'attempt'),
        timeoutMs: num(kind, h, 'timeoutMs'),
        input: parts[0]!,
        workflowInput: hasWorkflowInput ? parts[1]! : null,
      };
    }
    case 'result':
      expectParts(kind, parts, 1);
      return {
        kind,
        id: num(kind, h, 'id'),
        output: parts[0]!,
        cpuTimeUs: num(kind, h, 'cpuTimeUs'),
      };
    case 'error':
      expectParts(kind, parts, 0);
      return {
        kind,
        id: num(kind, h, 'id'),
        message: str(kind, h, 'message'),
        stack: str(kind, h, 'stack'),
        name: str(kind, h, 'name'),
      };
    default:
      return unknownKind(kind);
  }
}

function expectParts(kind: FrameKind, parts: Buffer[], count: number): void {
  if (parts.length !== count) {
    throw new ProtocolError(`${kind} frame must carry ${count} parts, got ${parts.length}`);
  }
}

function str(kind: FrameKind, h: Header, field: string): string {
  const v = h[field];
  if (typeof v !== 'string')
    throw new ProtocolError(`${kind} frame field ${field} must be a string`);
  return v;
}

function num(kind: FrameKind, h: Header, field: string): number {
  const v = h[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ProtocolError(`${kind} frame field ${field} must be a finite number`);
  }
  return v;
}

function source(value: unknown): RuntimeSource {
  if (typeof value === 'object' && value !== null) {
    const s = value as Record<string, unknown>;
    const preload = preloadFiles(s['preload']);
    const extra = preload === undefined ? {} : { preload };
    if (s['kind'] === 'handler' && typeof s['path'] === 'string')
      return { kind: 'handler', path: s['path'], ...extra };
    if (s['kind'] === 'code' && typeof s['code'] === 'string')
      return { kind: 'code', code: s['code'], ...extra };
    if (s['kind'] === 'builtin' && typeof s['builtin'] === 'object' && s['builtin'] !== null) {
      return { kind: 'builtin', builtin: s['builtin'] as SyntheticSpec, ...extra };
    }
  }
  throw new ProtocolError(
    'init frame field source must be {kind:"handler",path} | {kind:"code",code} | {kind:"builtin",builtin}, with an optional preload: [{name, path}]',
  );
}

function preloadFiles(value: unknown): PreloadFile[] | undefined {
  if (value === undefined) return undefined;
  if (
    Array.isArray(value) &&
    value.every(
      (f: unknown) =>
        typeof f === 'object' &&
        f !== null &&
        typeof (f as PreloadFile).name === 'string' &&
        typeof (f as PreloadFile).path === 'string',
    )
  )
    return value as PreloadFile[];
  throw new ProtocolError('init frame field source.preload must be [{name, path}] of strings');
}
