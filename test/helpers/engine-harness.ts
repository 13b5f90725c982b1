/**
 * Fake ports for deterministic tests of the worker engine (unit project, no I/O): a sandbox that
 * runs plain functions in-process, a data plane in a Map, and a network of engines addressed by
 * URL that can drop a worker. Each engine is a real `Engine`; only its ports are fakes.
 */
import { decodeValue, encodeValue } from '../../shared/codec.js';
import type { WorkflowDag } from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import type { Journal } from '../../shared/journal.js';
import { silentLogger } from '../../shared/logger.js';
import type {
  Durability,
  InvocationContext,
  Placement,
  Report,
  StoredRef,
  Trigger,
} from '../../shared/schema/wire.js';
import { Engine } from '../../worker/engine/engine.js';
import { indexDeployment } from '../../worker/engine/deployments.js';
import type { DataPlane, Transport } from '../../worker/engine/ports.js';
import type { RunRequest, RunResult, Sandbox } from '../../worker/sandbox/types.js';
import { loadWorkflow } from '../../master/workflow/index.js';
import { invId } from './ids.js';

export type Fn = (input: unknown, req: RunRequest) => unknown;

/** Runs each function as a plain JS function; counts runs per node. */
export class InlineSandbox implements Sandbox {
  readonly kind = 'process';
  readonly runs: { node: string; attempt: number }[] = [];
  constructor(private readonly fns: Record<string, Fn>) {}
  deploy(): Promise<void> {
    return Promise.resolve();
  }
  async run(key: string, req: RunRequest): Promise<RunResult> {
    const name = key.slice(key.lastIndexOf('/') + 1);
    const fn = this.fns[name];
    if (!fn) throw new AppError('FUNCTION_FAILED', `no function ${name}`);
    this.runs.push({ node: req.node, attempt: req.attempt });
    const output = encodeValue(await fn(decodeValue(req.input), req));
    return {
      output,
      cold: false,
      queueMs: 0,
      initMs: 0,
      durationMs: 0,
      allocation: req.allocation,
      peakMemoryMb: null,
      peakCpuCores: null,
      cpuTimeMs: null,
      throttledMs: null,
      pressureMs: null,
      safeguardAtMs: null,
      sandboxId: 's',
      isolation: this.kind,
    };
  }
  resize(): Promise<void> {
    return Promise.resolve();
  }
  resizeRun(): Promise<boolean> {
    return Promise.resolve(false);
  }
  undeploy(): Promise<void> {
    return Promise.resolve();
  }
  stats(): { sandboxes: number; busy: number; perFunction: Record<string, never> } {
    return { sandboxes: 0, busy: 0, perFunction: {} };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** One shared byte store for every engine (like Redis): every ref is readable everywhere. */
export class MapStore implements DataPlane {
  readonly objects = new Map<string, Buffer>();
  put(invocationId: string, key: string, value: Buffer): Promise<StoredRef> {
    const k = `${invocationId}/${key}`;
    this.objects.set(k, value);
    return Promise.resolve({ tier: 'redis', key: k, sizeBytes: value.length });
  }
  getBuffer(ref: StoredRef): Promise<Buffer> {
    if (ref.tier === 'inline') return Promise.resolve(Buffer.from(ref.data, 'base64'));
    const b = this.objects.get(ref.key);
    return b
      ? Promise.resolve(b)
      : Promise.reject(new AppError('OBJECT_NOT_FOUND', `no object ${ref.key}`));
  }
  releaseInvocation(): Promise<void> {
    return Promise.resolve();
  }
}

/** Engines addressed by URL; `down` URLs refuse triggers as a dead worker would. */
export class Network implements Transport {
  readonly engines = new Map<string, Engine>();
  readonly down = new Set<string>();
  readonly reports: Report[] = [];
  readonly sent: { url: string; trigger: Trigger }[] = [];
  sendTriggers(url: string, triggers: Trigger[]): Promise<void> {
    for (const trigger of triggers) this.sent.push({ url, trigger: structuredClone(trigger) });
    const engine = this.engines.get(url);
    if (!engine || this.down.has(url))
      return Promise.reject(new AppError('WORKER_UNREACHABLE', `${url} is down`));
    // Like a POST: recorded on the receiver's side in a later tick.
    return new Promise((resolve, reject) =>
      setImmediate(() => {
        try {
          engine.accept(structuredClone(triggers));
          resolve();
        } catch (err) {
          reject(AppError.from(err));
        }
      }),
    );
  }
  report(_masterUrl: string, report: Report): void {
    this.reports.push(structuredClone(report));
  }
  sinks(): Extract<Report, { kind: 'sink' }>[] {
    return this.reports.filter((r): r is Extract<Report, { kind: 'sink' }> => r.kind === 'sink');
  }
  failures(): Extract<Report, { kind: 'failed' }>[] {
    return this.reports.filter(
      (r): r is Extract<Report, { kind: 'failed' }> => r.kind === 'failed',
    );
  }
}

export function dagOf(yaml: string): WorkflowDag {
  const r = loadWorkflow(yaml);
  if (!r.dag) throw new Error(`bad test workflow: ${JSON.stringify(r.issues)}`);
  return r.dag;
}

export interface Cluster {
  net: Network;
  store: MapStore;
  sandboxes: Map<string, InlineSandbox>;
  placement: Placement;
  dag: WorkflowDag;
  groupOf: Record<string, number>;
  /** Starts the invocation's sources as the master would. */
  start(id: string, input: unknown, durability?: Durability): void;
  ctx(input: unknown, durability?: Durability): InvocationContext;
}

/**
 * Workers `w1…wN` at `http://wN`, each a real Engine over the fake ports, holding `dag` with
 * the given partition (node → group) and placement (group → worker id).
 */
export function cluster(o: {
  dag: WorkflowDag;
  groupOf: Record<string, number>;
  groups: string[];
  workers: string[];
  fns: Record<string, Fn>;
  journal?: Journal;
}): Cluster {
  const net = new Network();
  const store = new MapStore();
  const sandboxes = new Map<string, InlineSandbox>();
  const workers: Record<string, string> = {};
  for (const id of o.workers) workers[id] = `http://${id}`;
  for (const id of o.workers) {
    const sandbox = new InlineSandbox(o.fns);
    sandboxes.set(id, sandbox);
    const engine = new Engine({
      workerId: id,
      sandbox,
      store,
      transport: net,
      logger: silentLogger,
      rebalance: false,
      ...(o.journal ? { journal: o.journal } : {}),
    });
    engine.addDeployment(
      indexDeployment(
        { workflow: o.dag.name, version: 1, dag: o.dag, groupOf: o.groupOf, files: {} },
        '/nonexistent',
      ),
    );
    net.engines.set(workers[id]!, engine);
  }
  const placement: Placement = { groups: o.groups, workers };
  const ctx = (input: unknown, durability?: Durability): InvocationContext => {
    const b = encodeValue(input);
    return {
      tenant: 'default',
      deadline: Date.now() + 30_000,
      input: { tier: 'inline', data: b.toString('base64'), sizeBytes: b.length },
      master: 'http://master',
      mode: 'worker',
      ...(durability ? { durability } : {}),
    };
  };
  return {
    net,
    store,
    sandboxes,
    placement,
    dag: o.dag,
    groupOf: o.groupOf,
    ctx,
    start(id, input, durability) {
      const c = ctx(input, durability);
      for (const node of o.dag.sources) {
        const owner = placement.groups[o.groupOf[node]!]!;
        net.engines.get(workers[owner]!)!.accept([
          {
            invocationId: invId(id),
            workflow: o.dag.name,
            version: 1,
            node,
            from: null,
            ref: c.input,
            placement,
            ctx: c,
          },
        ]);
      }
    },
  };
}

/** Polls `check` every few ms until it is true or `timeoutMs` passes. */
export async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}
