/**
 * The load side of `faasflow bench overhead`: a master API client on a keep-alive pool (the same
 * HTTP client master and workers use, so the client adds the floor and nothing more), a closed
 * loop (one invocation at a time, latency per call), an open loop of C concurrent callers for a
 * fixed time (throughput), and the fetch of timelines after a loop.
 *
 * Latency is `performance.now()` around the HTTP call that starts an invocation and waits for it
 * (`wait: true`), so it includes the master, every worker, and one loopback round trip.
 */
import { HttpClient } from '../shared/http-client.js';
import {
  addTimeline,
  analyzeTimeline,
  emptySamples,
  readSteps,
  type DagEdgeRef,
  type TimelineSamples,
} from './overhead-timeline.js';

/** Per HTTP call; a no-op invocation that takes this long is a failure, not a sample. */
const CALL_TIMEOUT_MS = 30_000;

export interface WorkflowShape {
  name: string;
  version: number;
  nodes: string[];
  edges: DagEdgeRef[];
  /** The partitioner's groups (node ids per group). */
  groups: string[][];
}

export interface InvokeResult {
  invocationId: string;
  status: string;
  /** The master's own figure for the invocation (whole ms: it reads Date.now()). */
  durationMs: number;
  /** Client-observed: the HTTP call, start to answer. */
  clientMs: number;
  error?: string;
}

export class BenchClient {
  private readonly http: HttpClient;

  constructor(
    readonly masterUrl: string,
    connections = 8,
  ) {
    this.http = new HttpClient({ connections });
  }

  /** Uploads a workflow (inline code only: no handler files) and reads back its DAG and groups. */
  async deploy(yaml: string, extra: Record<string, unknown> = {}): Promise<WorkflowShape> {
    const created = (await this.http.json(
      `${this.masterUrl}/v1/workflows`,
      'POST',
      { ...extra, yaml },
      CALL_TIMEOUT_MS,
    )) as { name?: unknown; version?: unknown };
    if (typeof created.name !== 'string')
      throw new Error(`deploy answered without a workflow name: ${JSON.stringify(created)}`);
    const view = (await this.http.json(
      `${this.masterUrl}/v1/workflows/${created.name}`,
      'GET',
      undefined,
      CALL_TIMEOUT_MS,
    )) as {
      dag?: { nodes?: { id: string }[]; edges?: DagEdgeRef[] };
      groups?: string[][];
    };
    if (
      !Array.isArray(view.dag?.nodes) ||
      !Array.isArray(view.dag.edges) ||
      !Array.isArray(view.groups)
    ) {
      throw new Error(`GET /v1/workflows/${created.name} has no dag.nodes, dag.edges and groups`);
    }
    return {
      name: created.name,
      version: typeof created.version === 'number' ? created.version : 1,
      nodes: view.dag.nodes.map((n) => n.id),
      edges: view.dag.edges,
      groups: view.groups,
    };
  }

  /** Runs one invocation to its end through `via` (a worker's ingress; default the master). */
  invoke(
    name: string,
    input: unknown,
    timeoutMs = CALL_TIMEOUT_MS,
    via: string = this.masterUrl,
  ): Promise<InvokeResult> {
    return this.invokeBody(name, { input }, timeoutMs, via);
  }

  /** As `invoke`, in a caller session (chains learn successors within it). */
  invokeWith(name: string, input: unknown, session?: string): Promise<InvokeResult> {
    return this.invokeBody(name, { input, ...(session === undefined ? {} : { session }) });
  }

  /** A GET of the master's API, answered JSON. */
  get(path: string): Promise<unknown> {
    return this.http.json(`${this.masterUrl}${path}`, 'GET', undefined, CALL_TIMEOUT_MS);
  }

  private async invokeBody(
    name: string,
    fields: { input: unknown; session?: string },
    timeoutMs = CALL_TIMEOUT_MS,
    via: string = this.masterUrl,
  ): Promise<InvokeResult> {
    const start = performance.now();
    const body = (await this.http.json(
      `${via}/v1/workflows/${name}/invocations`,
      'POST',
      { ...fields, wait: true, timeoutMs },
      timeoutMs + 5_000,
    )) as {
      invocationId?: unknown;
      status?: unknown;
      durationMs?: unknown;
      error?: { message?: unknown };
    };
    const clientMs = performance.now() - start;
    if (
      typeof body.invocationId !== 'string' ||
      typeof body.status !== 'string' ||
      typeof body.durationMs !== 'number'
    ) {
      throw new Error(
        `POST /v1/workflows/${name}/invocations answered without invocationId, status and durationMs: ${JSON.stringify(body)}`,
      );
    }
    const error = typeof body.error?.message === 'string' ? body.error.message : undefined;
    return {
      invocationId: body.invocationId,
      status: body.status,
      durationMs: body.durationMs,
      clientMs,
      ...(error ? { error } : {}),
    };
  }

  invocation(id: string, via: string = this.masterUrl): Promise<unknown> {
    return this.http.json(`${via}/v1/invocations/${id}`, 'GET', undefined, CALL_TIMEOUT_MS);
  }

  workers(): Promise<unknown> {
    return this.http.json(`${this.masterUrl}/v1/workers`, 'GET', undefined, CALL_TIMEOUT_MS);
  }

  /** Resolves once every URL's placement view lists every worker holding `versions`. */
  async viewsHold(urls: readonly string[], versions: readonly string[]): Promise<void> {
    const until = Date.now() + 10_000;
    for (const url of urls) {
      for (;;) {
        const v = (await this.http
          .json(`${url}/v1/cluster/view`, 'GET', undefined, 5_000)
          .catch(() => undefined)) as { workers?: { holds: string[] }[] } | undefined;
        const ok =
          v?.workers !== undefined &&
          v.workers.length === urls.length &&
          v.workers.every((w) => versions.every((x) => w.holds.includes(x)));
        if (ok) break;
        if (Date.now() > until)
          throw new Error(`${url}: no placement view holding ${versions.join(', ')} within 10 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** CPU time each process has used so far, µs (GET /v1/debug/cpu), by name. */
  async cpu(processes: Readonly<Record<string, string>>): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    await Promise.all(
      Object.entries(processes).map(async ([name, url]) => {
        const c = (await this.http.json(`${url}/v1/debug/cpu`, 'GET', undefined, 5_000)) as {
          userUs: number;
          systemUs: number;
        };
        out[name] = c.userUs + c.systemUs;
      }),
    );
    return out;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

/** µs of CPU per invocation of each process between two `cpu()` readings. */
export function cpuPerInvocation(
  before: Readonly<Record<string, number>>,
  after: Readonly<Record<string, number>>,
  invocations: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, us] of Object.entries(after))
    out[name] = invocations > 0 ? Math.round((us - (before[name] ?? 0)) / invocations) : 0;
  return out;
}

/** `master 120 µs, w1 310 µs, …, total 740 µs` */
export function formatCpu(perInvocation: Readonly<Record<string, number>>): string {
  const parts = Object.entries(perInvocation).map(([name, us]) => `${name} ${us} µs`);
  const total = Object.values(perInvocation).reduce((a, b) => a + b, 0);
  return [...parts, `total ${total} µs`].join(', ');
}

export interface LoopFailures {
  count: number;
  /** The first failure's message, for the report. */
  first?: string;
}

export interface ClosedLoopResult {
  clientMs: number[];
  masterMs: number[];
  invocationIds: string[];
  failures: LoopFailures;
}

function noteFailure(f: LoopFailures, message: string): void {
  f.count++;
  f.first ??= message;
}

/** `warmup` unmeasured then `iterations` measured invocations, one at a time. */
export async function closedLoop(
  client: BenchClient,
  name: string,
  o: { warmup: number; iterations: number; input: unknown },
): Promise<ClosedLoopResult> {
  const failures: LoopFailures = { count: 0 };
  for (let i = 0; i < o.warmup; i++) {
    const r = await client.invoke(name, o.input);
    if (r.status !== 'succeeded')
      noteFailure(failures, `${name} warm-up: ${r.status}: ${r.error ?? 'no error message'}`);
  }
  const result: ClosedLoopResult = { clientMs: [], masterMs: [], invocationIds: [], failures };
  for (let i = 0; i < o.iterations; i++) {
    const r = await client.invoke(name, o.input);
    if (r.status !== 'succeeded') {
      noteFailure(failures, `${name}: ${r.status}: ${r.error ?? 'no error message'}`);
      continue;
    }
    result.clientMs.push(r.clientMs);
    result.masterMs.push(r.durationMs);
    result.invocationIds.push(r.invocationId);
  }
  return result;
}

export interface OpenLoopResult {
  concurrency: number;
  completed: number;
  elapsedMs: number;
  invocationsPerSec: number;
  clientMs: number[];
  failures: LoopFailures;
}

/**
 * `concurrency` callers, each invoking again as soon as its last call returns, until `durationMs`
 * has passed; calls in flight at the end are awaited and counted (elapsed runs to the last one).
 */
export async function openLoop(
  client: BenchClient,
  name: string,
  o: { concurrency: number; durationMs: number; input: unknown },
): Promise<OpenLoopResult> {
  const failures: LoopFailures = { count: 0 };
  const clientMs: number[] = [];
  const start = performance.now();
  const stopAt = start + o.durationMs;
  const caller = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      try {
        const r = await client.invoke(name, o.input);
        if (r.status === 'succeeded') clientMs.push(r.clientMs);
        else noteFailure(failures, `${name}: ${r.status}: ${r.error ?? 'no error message'}`);
      } catch (err) {
        noteFailure(failures, `${name}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, caller));
  const elapsedMs = performance.now() - start;
  return {
    concurrency: o.concurrency,
    completed: clientMs.length,
    elapsedMs,
    invocationsPerSec: clientMs.length / (elapsedMs / 1000),
    clientMs,
    failures,
  };
}

/**
 * Reads the timelines of `ids` (a few at a time) and breaks them down. Workers report steps in
 * batches, so a timeline can be short of steps just after the invocation answered: each is
 * polled until every node has a step or `settleMs` passes.
 */
export async function collectTimelines(
  client: BenchClient,
  shape: WorkflowShape,
  ids: readonly string[],
  settleMs = 5_000,
): Promise<TimelineSamples> {
  const samples = emptySamples();
  let next = 0;
  const reader = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++]!;
      const deadline = Date.now() + settleMs;
      for (;;) {
        const read = readSteps(await client.invocation(id));
        if ('problem' in read)
          throw new Error(`invocation ${id} of ${shape.name}: ${read.problem}`);
        const t = analyzeTimeline(shape.nodes, shape.edges, read.steps);
        if (t !== null || Date.now() > deadline) {
          addTimeline(samples, t);
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, reader));
  return samples;
}
