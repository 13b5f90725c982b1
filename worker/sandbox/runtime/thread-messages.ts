/**
 * The messages between a worker and one thread of the thread tier (`thread.ts`), and the one rule
 * for moving bytes between them without copies: a buffer is transferred only when it is the sole
 * view of its ArrayBuffer (otherwise transferring would detach bytes that belong to someone else,
 * Node's small-buffer pool included); any other buffer is first copied once into its own.
 *
 * Imports only node builtins and files of this folder.
 */
import type { HandlerCall, ThrownError } from './handler.js';
import type { RuntimeSource } from './protocol.js';

/** `workerData` of a thread: what it loads. */
export interface ThreadInit {
  fnName: string;
  source: RuntimeSource;
}

/** A call as it crosses to the thread: its buffers as views the thread owns. */
export interface ThreadRequest {
  kind: 'run';
  id: number;
  call: Omit<HandlerCall, 'input' | 'workflowInput'> & {
    input: Uint8Array;
    workflowInput: Uint8Array | null;
  };
}

export type ThreadReply =
  | { kind: 'ready'; loadMs: number }
  | { kind: 'result'; id: number; output: Uint8Array; cpuTimeUs: number }
  /** `id` 0 answers the load (the handler failed to load). */
  | ({ kind: 'error'; id: number } & ThrownError)
  /** An error thrown between runs (no run to charge it to): logged by the worker. */
  | ({ kind: 'stray' } & ThrownError);

/**
 * `bytes` as the sole view of an ArrayBuffer, ready to be transferred: itself when it already is
 * (zero copy), else a copy of just its bytes.
 */
export function ownedArrayBuffer(bytes: Uint8Array): Uint8Array {
  const whole =
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer;
  if (whole) return bytes;
  const copy = new Uint8Array(new ArrayBuffer(bytes.byteLength));
  copy.set(bytes);
  return copy;
}

/** A copy of `bytes` in an ArrayBuffer of its own (for buffers the sender must keep). */
export function copiedArrayBuffer(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(new ArrayBuffer(bytes.byteLength));
  copy.set(bytes);
  return copy;
}
