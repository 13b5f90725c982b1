/**
 * End-to-end helpers: a real local cluster (master + workers as child processes, built from
 * dist/) and a small client for the master's HTTP API.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { LocalCluster, type LocalClusterOptions } from '../../deploy/local-cluster.js';

export interface Api {
  url: string;
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any }>;
  deploy(file: string, extra?: Record<string, unknown>): Promise<any>;
  invoke(name: string, input: unknown, extra?: Record<string, unknown>): Promise<any>;
  invocation(id: string): Promise<any>;
}

export async function startCluster(
  o: Partial<LocalClusterOptions> & { workers: number },
): Promise<{ cluster: LocalCluster; api: Api }> {
  const logDir = mkdtempSync(join(tmpdir(), 'faasflow-e2e-'));
  const cluster = new LocalCluster({ logLevel: process.env['LOG_LEVEL'] ?? 'info', ...o, logDir });
  try {
    await cluster.start();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return { cluster, api: client(cluster.masterUrl) };
}

export function client(url: string): Api {
  const request = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      if (typeof body === 'string' || body instanceof Buffer) init.body = body;
      else {
        init.body = JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
      }
    }
    const res = await fetch(`${url}${path}`, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed as any };
  };
  return {
    url,
    request,
    async deploy(file, extra = {}) {
      const yaml = readFileSync(file, 'utf8');
      const files: Record<string, string> = {};
      const doc = parse(yaml) as { functions?: Record<string, { handler?: string }> };
      if (doc.functions && !Array.isArray(doc.functions)) {
        for (const f of Object.values(doc.functions)) {
          if (f.handler)
            files[f.handler] = readFileSync(join(dirname(file), f.handler)).toString('base64');
        }
      }
      const r = await request('POST', '/v1/workflows', { yaml, files, ...extra });
      if (r.status !== 201)
        throw new Error(`deploy ${file}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async invoke(name, input, extra = {}) {
      const r = await request('POST', `/v1/workflows/${name}/invocations`, { input, ...extra });
      if (r.status !== 200 && r.status !== 202)
        throw new Error(`invoke ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async invocation(id) {
      const r = await request('GET', `/v1/invocations/${id}`);
      if (r.status !== 200)
        throw new Error(`invocation ${id}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
  };
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `condition not met within ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
