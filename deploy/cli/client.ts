/** `faasflow deploy | invoke | status | workers`: talk to a master over its HTTP API. */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A JSON request to the master; a non-2xx answer becomes a CliError with its code and message. */
export async function call(
  master: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const res = await send(master, method, path, body);
  const text = await res.text();
  return answer(res, text, text === '' ? null : parseJson(text));
}

/**
 * A request whose answer the caller reads itself (streamed exports); non-2xx answers throw as
 * `call` does. A string body is sent as is with `contentType`.
 */
export async function request(
  master: string,
  method: string,
  path: string,
  body?: string,
  contentType = 'text/plain',
): Promise<Response> {
  const res = await send(master, method, path, body, contentType);
  if (res.ok) return res;
  const text = await res.text();
  return answer(res, text, parseJson(text)) as never;
}

async function send(
  master: string,
  method: string,
  path: string,
  body: unknown,
  contentType?: string,
): Promise<Response> {
  try {
    const raw = typeof body === 'string' && contentType !== undefined;
    return await fetch(`${master}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': raw ? contentType : 'application/json' },
      ...(body === undefined ? {} : { body: raw ? body : JSON.stringify(body) }),
    });
  } catch (err) {
    throw new CliError(
      `cannot reach the master at ${master} (${(err as Error).message}); start one with \`faasflow up\` or pass --master URL`,
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function answer(res: Response, text: string, parsed: unknown): unknown {
  if (!res.ok) {
    const e = (parsed ?? {}) as {
      code?: string;
      message?: string;
      details?: { issues?: { path: string; message: string; line?: number }[] };
    };
    const issues =
      e.details?.issues
        ?.map(
          (i) => `\n  ${i.path || '(document)'}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`,
        )
        .join('') ?? '';
    throw new CliError(
      `${res.status} ${e.code ?? ''}: ${e.message ?? text}${issues}`,
      e.code === 'WORKFLOW_INVALID' ? 2 : 1,
    );
  }
  return parsed;
}

/** Uploads a workflow with the handler files it names (resolved next to the YAML file). */
export async function deploy(master: string, file: string, name?: string): Promise<unknown> {
  const yaml = await readFile(file, 'utf8');
  const files: Record<string, string> = {};
  let doc: unknown;
  try {
    doc = parse(yaml);
  } catch {
    doc = null; // the master reports the syntax error with its position
  }
  const fns = (doc as { functions?: unknown } | null)?.functions;
  if (fns && typeof fns === 'object' && !Array.isArray(fns)) {
    for (const spec of Object.values(fns as Record<string, unknown>)) {
      const handler = (spec as { handler?: unknown } | null)?.handler;
      if (typeof handler !== 'string' || files[handler] !== undefined) continue;
      try {
        files[handler] = (await readFile(resolve(dirname(file), handler))).toString('base64');
      } catch {
        throw new CliError(`handler file ${handler} not found next to ${file}`);
      }
    }
  }
  return call(master, 'POST', '/v1/workflows', { yaml, files, ...(name ? { name } : {}) });
}

export async function readInput(arg: string | undefined): Promise<unknown> {
  if (arg === undefined) return null;
  const text = arg.startsWith('@') ? await readFile(arg.slice(1), 'utf8') : arg;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`--input is not valid JSON: ${(err as Error).message}`, 2);
  }
}

export function invoke(
  master: string,
  name: string,
  input: unknown,
  wait: boolean,
  timeoutMs?: number,
  /** Harvesting options of the invocation (`profile`, `dataBytes`). */
  extra: { profile?: boolean; dataBytes?: number } = {},
): Promise<unknown> {
  return call(master, 'POST', `/v1/workflows/${encodeURIComponent(name)}/invocations`, {
    input,
    wait,
    ...(timeoutMs ? { timeoutMs } : {}),
    ...extra,
  });
}

export function status(master: string, id: string): Promise<unknown> {
  return call(master, 'GET', `/v1/invocations/${encodeURIComponent(id)}`);
}

export function workers(master: string): Promise<unknown> {
  return call(master, 'GET', '/v1/workers');
}
