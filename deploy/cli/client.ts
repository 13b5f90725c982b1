/** `faasflow deploy | invoke | status | workers`: talk to a master over its HTTP API. */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { apiKeyFor } from './credentials.js';

/** The CLI's exit codes (docs/reference/cli.md lists them). */
export const EXIT = {
  ok: 0,
  /** The work failed: an invocation did not succeed, the master answered with an error. */
  failure: 1,
  /** Bad input: usage, options, an invalid workflow or input file. */
  usage: 2,
  /** The master could not be reached at all. */
  unreachable: 3,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failure,
  ) {
    super(message);
  }
}

/** The key `--api-key` (or FAASFLOW_API_KEY) gave this process; without one, the credentials file's. */
let explicitApiKey: string | undefined;

export function useApiKey(key: string | undefined): void {
  explicitApiKey = key === '' ? undefined : key;
}

function authHeader(master: string): Record<string, string> {
  const key = explicitApiKey ?? apiKeyFor(master);
  return key === undefined ? {} : { authorization: `Bearer ${key}` };
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
      headers: {
        ...authHeader(master),
        ...(body === undefined ? {} : { 'content-type': raw ? contentType : 'application/json' }),
      },
      ...(body === undefined ? {} : { body: raw ? body : JSON.stringify(body) }),
    });
  } catch (err) {
    throw new CliError(
      `cannot reach the master at ${master} (${reason(err)}); start one with \`faasflow up\` or pass --master URL (or set FAASFLOW_MASTER_URL)`,
      EXIT.unreachable,
    );
  }
}

/** fetch's "fetch failed" hides the useful part (ECONNREFUSED, ENOTFOUND) in its cause. */
function reason(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
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
    const hint =
      res.status === 401
        ? '\n  (pass --api-key KEY or set FAASFLOW_API_KEY; `faasflow up --auth on` saves its key in ' +
          'the credentials file, FAASFLOW_CREDENTIALS)'
        : '';
    throw new CliError(
      `${res.status} ${e.code ?? ''}: ${e.message ?? text}${issues}${hint}`,
      e.code === 'WORKFLOW_INVALID' || res.status === 400 ? EXIT.usage : EXIT.failure,
    );
  }
  return parsed;
}

/**
 * Uploads a workflow with the handler and `preload:` files it names (resolved next to the YAML file);
 * `onFile` hears of each handler file as it is read (the deploy command's progress).
 */
export async function deploy(
  master: string,
  file: string,
  name?: string,
  onFile?: (handler: string, sizeBytes: number, index: number, total: number) => void,
): Promise<unknown> {
  const yaml = await readFile(file, 'utf8').catch((err: Error) => {
    throw new CliError(`cannot read ${file}: ${err.message}`, EXIT.usage);
  });
  const files: Record<string, string> = {};
  let doc: unknown;
  try {
    doc = parse(yaml);
  } catch {
    doc = null; // the master reports the syntax error with its position
  }
  const fns = (doc as { functions?: unknown } | null)?.functions;
  if (fns && typeof fns === 'object' && !Array.isArray(fns)) {
    // Handlers and `preload:` files travel with the workflow (the master checks their list).
    const specs = Object.values(fns as Record<string, unknown>).map(
      (spec) => (spec ?? {}) as { handler?: unknown; preload?: unknown },
    );
    const handlers = [
      ...new Set([
        ...specs.map((spec) => spec.handler).filter((h): h is string => typeof h === 'string'),
        ...specs.flatMap((spec) =>
          Array.isArray(spec.preload)
            ? spec.preload.filter((p): p is string => typeof p === 'string')
            : [],
        ),
      ]),
    ];
    for (const [i, handler] of handlers.entries()) {
      let content: Buffer;
      try {
        content = await readFile(resolve(dirname(file), handler));
      } catch {
        throw new CliError(`file ${handler} not found next to ${file}`, EXIT.usage);
      }
      files[handler] = content.toString('base64');
      onFile?.(handler, content.length, i, handlers.length);
    }
  }
  return call(master, 'POST', '/v1/workflows', { yaml, files, ...(name ? { name } : {}) });
}

export async function readInput(arg: string | undefined): Promise<unknown> {
  if (arg === undefined) return null;
  const text = arg.startsWith('@')
    ? await readFile(arg.slice(1), 'utf8').catch((err: Error) => {
        throw new CliError(`cannot read --input ${arg}: ${err.message}`, EXIT.usage);
      })
    : arg;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`--input is not valid JSON: ${(err as Error).message}`, EXIT.usage);
  }
}

export function invoke(
  master: string,
  name: string,
  input: unknown,
  wait: boolean,
  timeoutMs?: number,
  /** Harvesting options of the invocation (`profile`, `dataBytes`), its `subTenant`, `session`. */
  extra: { profile?: boolean; dataBytes?: number; subTenant?: string; session?: string } = {},
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

/** The ranked graphs of a composed workflow (GET /v1/workflows/:name/composition). */
export function composition(
  master: string,
  name: string,
  q: { subTenant?: string; top?: number; input?: unknown },
): Promise<unknown> {
  const params = new URLSearchParams();
  if (q.subTenant !== undefined) params.set('subTenant', q.subTenant);
  if (q.top !== undefined) params.set('top', String(q.top));
  if (q.input !== undefined) params.set('input', JSON.stringify(q.input));
  const qs = params.toString();
  return call(
    master,
    'GET',
    `/v1/workflows/${encodeURIComponent(name)}/composition${qs ? `?${qs}` : ''}`,
  );
}

/** What the chain model learned of a workflow (GET /v1/workflows/:name/chains). */
export function chains(master: string, name: string): Promise<unknown> {
  return call(master, 'GET', `/v1/workflows/${encodeURIComponent(name)}/chains`);
}

/** The last sharded-foreach plans of a workflow (GET /v1/workflows/:name/shards). */
export function shards(master: string, name: string, limit: number): Promise<unknown> {
  return call(master, 'GET', `/v1/workflows/${encodeURIComponent(name)}/shards?limit=${limit}`);
}

export function feedback(master: string, id: string, rating: number): Promise<unknown> {
  return call(master, 'POST', `/v1/invocations/${encodeURIComponent(id)}/feedback`, { rating });
}

export function workers(master: string): Promise<unknown> {
  return call(master, 'GET', '/v1/workers');
}

export function createTenant(master: string, name: string, role?: string): Promise<unknown> {
  return call(master, 'POST', '/v1/tenants', { name, ...(role === undefined ? {} : { role }) });
}

export function listTenants(master: string): Promise<unknown> {
  return call(master, 'GET', '/v1/tenants');
}

export function deleteTenant(master: string, name: string): Promise<unknown> {
  return call(master, 'DELETE', `/v1/tenants/${encodeURIComponent(name)}`);
}

export function createKey(master: string, tenant: string, role?: string): Promise<unknown> {
  return call(
    master,
    'POST',
    `/v1/tenants/${encodeURIComponent(tenant)}/keys`,
    role === undefined ? {} : { role },
  );
}

export function listKeys(master: string, tenant: string): Promise<unknown> {
  return call(master, 'GET', `/v1/tenants/${encodeURIComponent(tenant)}/keys`);
}

export function revokeKey(master: string, tenant: string, id: string): Promise<unknown> {
  return call(
    master,
    'DELETE',
    `/v1/tenants/${encodeURIComponent(tenant)}/keys/${encodeURIComponent(id)}`,
  );
}
