/**
 * The handler contract, in one place for every tier: loading a function (handler file, inline
 * code, builtin), building its `ctx`, running it once, and describing what it threw. The runtime
 * server (process children and containers), the thread runtime (`thread.ts`) and the trusted tier
 * all run this code, so a handler sees the same `input`, the same `ctx` and the same error rules
 * wherever it runs.
 *
 * A handler is `export default async (input, ctx) => output` (or a named `handler`), with
 * ctx = { invocationId, node, attempt, workflowInput, deadlineMs, preloaded }.
 *
 * Invariants: a run settles once (`RunTracker`): with its result, with what it threw, or with a
 * stray error (a timer, an emitter, an unawaited promise) thrown while it was in flight; an inline
 * module's file is deleted as soon as the module is loaded (or failed to). Imports only node
 * builtins, `shared/codec` and files of this folder (the folder is copied into container images).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { decodeValue, encodeValue } from '../../../shared/codec.js';
import type { PreloadFile, RuntimeSource } from './protocol.js';
import { runSynthetic, syntheticSpecProblems } from './synthetic.js';

export interface HandlerContext {
  invocationId: string;
  node: string;
  attempt: number;
  /** The invocation's input (decoded on first access). */
  readonly workflowInput: unknown;
  /** Epoch ms after which the worker kills this run. */
  deadlineMs: number;
  /**
   * The function's `preload:` files, read once when the sandbox started, by the name they were
   * declared with (empty when it declares none).
   */
  readonly preloaded: Readonly<Record<string, Buffer>>;
}

export type Handler = (input: unknown, ctx: HandlerContext) => unknown;

/** One call of a handler, as every tier receives it. */
export interface HandlerCall {
  invocationId: string;
  node: string;
  attempt: number;
  timeoutMs: number;
  /** `encodeValue(step input)`. */
  input: Buffer;
  /** `encodeValue(invocation input)`, or null when the node does not get it. */
  workflowInput: Buffer | null;
}

/** What a handler threw, as it crosses a frame, a thread message or a promise. */
export interface ThrownError {
  message: string;
  stack: string;
  name: string;
}

/**
 * A handler stops its retries by throwing an error named `NonRetryableError` or carrying
 * `retryable: false` (docs/durability.md); the name carries that across the frame.
 */
export const NON_RETRYABLE = 'NonRetryableError';

/**
 * Loads a function. Inline code is written to a private temporary module, imported, and the
 * file removed at once: nothing of it outlives the load, even if the process is killed later.
 */
export async function loadHandler(fnName: string, source: RuntimeSource): Promise<Handler> {
  const [fn, preloaded] = await Promise.all([
    loadFunction(fnName, source),
    readPreloaded(fnName, source.preload ?? []),
  ]);
  if (preloaded === NOTHING_PRELOADED) return fn;
  return (input, ctx) => fn(input, Object.defineProperty(ctx, 'preloaded', { value: preloaded }));
}

const NOTHING_PRELOADED: Readonly<Record<string, Buffer>> = Object.freeze({});

/** Reads the `preload:` files into memory; a missing one fails the load, naming it. */
async function readPreloaded(
  fnName: string,
  files: readonly PreloadFile[],
): Promise<Readonly<Record<string, Buffer>>> {
  if (files.length === 0) return NOTHING_PRELOADED;
  const out: Record<string, Buffer> = {};
  await Promise.all(
    files.map(async (f) => {
      try {
        out[f.name] = await readFile(f.path);
      } catch (err) {
        throw new Error(
          `preload file ${f.name} of function ${fnName} cannot be read at ${f.path}: ${(err as Error).message}`,
        );
      }
    }),
  );
  return Object.freeze(out);
}

async function loadFunction(fnName: string, source: RuntimeSource): Promise<Handler> {
  switch (source.kind) {
    case 'handler':
      return pickExport(await importModule(resolve(source.path)), source.path);
    case 'code': {
      const dir = mkdtempSync(join(tmpdir(), 'faasflow-code-'));
      codeDirs.add(dir);
      const file = join(dir, `${fnName.replace(/[^A-Za-z0-9_-]/g, '_')}.mjs`);
      try {
        writeFileSync(file, source.code, { mode: 0o600 });
        return pickExport(await importModule(file), `inline code of ${fnName}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
        codeDirs.delete(dir);
      }
    }
    case 'builtin': {
      const problems = syntheticSpecProblems(source.builtin);
      if (problems.length > 0)
        throw new Error(`invalid builtin spec for ${fnName}: ${problems.join('; ')}`);
      const spec = source.builtin;
      return (input, ctx) => runSynthetic(spec, fnName, input, ctx.workflowInput);
    }
    default:
      return source satisfies never;
  }
}

/** Inline-code directories of loads in progress. */
const codeDirs = new Set<string>();

/** Removes the files of loads still in progress (a runtime exiting mid-load calls it). */
export function removePendingCode(): void {
  for (const dir of codeDirs) rmSync(dir, { recursive: true, force: true });
  codeDirs.clear();
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

function pickExport(mod: Record<string, unknown>, where: string): Handler {
  const fn = mod['default'] ?? mod['handler'];
  if (typeof fn !== 'function') {
    const names = Object.keys(mod).join(', ') || 'none';
    throw new TypeError(
      `${where} must export a default function (input, ctx) => output (or a named \`handler\`); its exports: ${names}`,
    );
  }
  return fn as Handler;
}

/** The `ctx` of one call; `workflowInput` is decoded on first access only. */
export function handlerContext(call: HandlerCall): HandlerContext {
  const encoded = call.workflowInput;
  let decoded: { value: unknown } | null = null;
  return {
    invocationId: call.invocationId,
    node: call.node,
    attempt: call.attempt,
    deadlineMs: Date.now() + call.timeoutMs,
    preloaded: NOTHING_PRELOADED,
    get workflowInput(): unknown {
      if (encoded === null) return undefined;
      decoded ??= { value: decodeValue(encoded) };
      return decoded.value;
    },
  };
}

/** Decodes the input, calls the handler, encodes what it returned. */
export async function callHandler(handler: Handler, call: HandlerCall): Promise<Buffer> {
  const input = decodeValue(call.input);
  return encodeValue(await handler(input, handlerContext(call)));
}

export function describeThrown(err: unknown): ThrownError {
  if (err instanceof Error) {
    const terminal = (err as { retryable?: unknown }).retryable === false;
    return {
      message: err.message,
      stack: err.stack ?? `${err.name}: ${err.message}`,
      name: terminal ? NON_RETRYABLE : err.name,
    };
  }
  const message = typeof err === 'string' ? err : inspect(err, { depth: 3 });
  return { message: `non-Error thrown: ${message}`, stack: '', name: 'NonError' };
}

export interface RunAnswer {
  result(id: number, output: Buffer, cpuTimeUs: number): void;
  error(id: number, thrown: ThrownError): void;
}

/**
 * The runs of one runtime (a process or a thread) that are not answered yet. A stray error —
 * thrown outside any awaited handler code — is charged to every run in flight, which is all a
 * runtime running one request at a time can say about whose it was.
 */
export class RunTracker {
  private readonly inFlight = new Set<number>();

  constructor(
    private readonly answer: RunAnswer,
    /** CPU time of this runtime so far, µs (process.cpuUsage, or a thread's own measure). */
    private readonly cpuNowUs: () => number,
  ) {}

  async run(handler: Handler | null, id: number, call: HandlerCall): Promise<void> {
    this.inFlight.add(id);
    const cpuStartUs = this.cpuNowUs();
    try {
      if (handler === null) throw new Error('run received before a successful init');
      const output = await callHandler(handler, call);
      if (!this.inFlight.delete(id)) return;
      this.answer.result(id, output, this.cpuNowUs() - cpuStartUs);
    } catch (err) {
      if (this.inFlight.delete(id)) this.answer.error(id, describeThrown(err));
    }
  }

  /** Charges a stray error to the runs in flight; false when none was (it is the caller's). */
  stray(err: unknown): boolean {
    if (this.inFlight.size === 0) return false;
    const thrown = describeThrown(err);
    for (const id of this.inFlight) this.answer.error(id, thrown);
    this.inFlight.clear();
    return true;
  }
}

/** process.cpuUsage() as µs of user + system time. */
export function processCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}
