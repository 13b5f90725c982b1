/**
 * Runs invocations from the master's side: places the groups, sends the start triggers, collects
 * the workers' reports (steps, sinks, failures), assembles the output, enforces the deadline,
 * fails invocations whose workers die, and tells every worker involved to release the
 * invocation's state and objects when it ends. The master is never on the path between two
 * functions in WorkerSP mode; in MasterSP mode it relays every trigger itself.
 */
import { randomBytes } from 'node:crypto';
import { decodeValue, encodeValue } from '../../shared/codec.js';
import { assemble, type Arrival } from '../../shared/dag/template.js';
import { AppError } from '../../shared/errors.js';
import type { HttpClient } from '../../shared/http-client.js';
import { newInvocationId } from '../../shared/ids.js';
import { backoffMs, delay } from '../../shared/retry.js';
import type { Logger } from '../../shared/logger.js';
import type {
  DispatchMode,
  NodeAllocation,
  Placement,
  Report,
  StoredRef,
  Trigger,
} from '../../shared/schema/wire.js';
import type { TriggerSender } from '../../shared/trigger-sender.js';
import jsonata from 'jsonata';
import type { InvocationHarvest } from '../harvest/invocation.js';
import { place, type PlacementStrategy } from '../placement/index.js';
import { assertInput } from '../workflow/input-schema.js';
import type { DeploymentTracker } from '../registry/deployments.js';
import type { WorkerRegistry, WorkerView } from '../registry/workers.js';
import type { WorkflowCatalog, WorkflowVersion } from '../workflow/catalog.js';
import { listInvocations, type InvocationFilter, type InvocationPage } from './list.js';
import { MAX_STEPS, toJsonSafe, type InvocationRecord } from './record.js';

export interface InvocationManagerOptions {
  catalog: WorkflowCatalog;
  registry: WorkerRegistry;
  deployments: DeploymentTracker;
  http: HttpClient;
  sender: TriggerSender;
  logger: Logger;
  masterUrl: () => string;
  mode: DispatchMode;
  placement: PlacementStrategy;
  inlineMaxBytes: number;
  retain: number;
  tenant?: string;
  /** Resource harvesting (absent when it is off: no decision, no profile, no cost). */
  harvest?: HarvestHooks;
}

/** What the manager asks of harvesting: a decision at start, the finished invocation after. */
export interface HarvestHooks {
  decide(
    v: WorkflowVersion,
    req: { dagInputBytes: number; profile: boolean },
    capacities: readonly { cpu: number; memoryMb: number }[],
  ): { decision: InvocationHarvest; ctx: Record<string, NodeAllocation> };
  /** Called once a succeeded invocation has settled, off its caller's path. */
  finished(r: InvocationRecord, v: WorkflowVersion): void;
}

/** Longest wait for the last steps of a finished invocation before answering without them. */
const TIMELINE_GRACE_MS = 1_000;

export interface StartRequest {
  input: unknown;
  timeoutMs: number;
  /** Harvesting: run every task node at the maximum allocation to profile it. */
  profile?: boolean;
  /** Harvesting: the size the models see for this input (default: its encoded size). */
  dataBytes?: number;
}

/** How long releases for one worker wait to be batched with later ones. */
const RELEASE_LINGER_MS = 20;
/** Most invocation ids in one release request. */
const RELEASE_BATCH = 1_000;

export class InvocationManager {
  private readonly records = new Map<string, InvocationRecord>();
  private readonly inputs = new Map<string, Buffer>();
  private readonly releases = new Map<string, string[]>();
  private readonly releasing = new Set<string>();
  /** Ids whose release failed once and was queued again (a second failure drops them). */
  private readonly retriedReleases = new Set<string>();
  private cursor = 0;
  /** Per workflow version, where each group ran last (greedy-jsq keeps groups warm there). */
  private readonly lastPlacement = new Map<string, string[]>();

  constructor(private readonly o: InvocationManagerOptions) {
    o.registry.onDeath((w) => this.onWorkerDeath(w));
  }

  get(id: string): InvocationRecord {
    const r = this.records.get(id);
    if (!r)
      throw new AppError(
        'INVOCATION_NOT_FOUND',
        `invocation ${JSON.stringify(id)} is unknown (finished invocations are kept for the last ${this.o.retain})`,
      );
    return r;
  }

  /** Invocation inputs too large to inline, served to workers by GET /v1/objects/:key. */
  inputObject(key: string): Buffer {
    const b = this.inputs.get(key);
    if (!b) throw new AppError('OBJECT_NOT_FOUND', `object ${key} is not held by the master`);
    return b;
  }

  get running(): number {
    let n = 0;
    for (const r of this.records.values()) if (r.status === 'running') n++;
    return n;
  }

  start(workflow: string, req: StartRequest): InvocationRecord {
    const v = this.o.catalog.latest(workflow);
    if (v.dag.inputSchema) assertInput(v.name, v.dag.inputSchema, req.input);
    if (req.profile && !this.o.harvest)
      throw new AppError(
        'CONFLICT',
        'profile: true needs harvesting; start the master with --harvest on --redis-url URL',
      );
    const workers = this.o.registry.ready().filter((w) => this.o.deployments.holds(w.id, v));
    const id = newInvocationId();
    const placement = this.placement(v, workers, id);
    const encoded = encodeValue(req.input);
    const harvest = this.o.harvest?.decide(
      v,
      { dagInputBytes: req.dataBytes ?? encoded.length, profile: req.profile === true },
      workers.filter((w) => placement.groups.includes(w.id)).map((w) => w.capacity),
    );
    const now = Date.now();
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const r: InvocationRecord = {
      id,
      workflow: v.name,
      version: v.version,
      status: 'running',
      startedAt: now,
      deadline: now + req.timeoutMs,
      placement,
      pendingSinks: new Set(v.dag.sinks),
      sinkOutputs: new Map(),
      steps: [],
      stepsDropped: 0,
      stepKeys: new Set(),
      stepped: new Set(),
      sinksDone: false,
      done,
      settle,
      ...(harvest ? { harvest: harvest.decision } : {}),
    };
    this.records.set(id, r);
    this.trim();
    const input = this.inputRef(r, encoded);
    r.timer = setTimeout(
      () =>
        this.finish(
          r,
          'timed_out',
          undefined,
          new AppError(
            'INVOCATION_TIMEOUT',
            `invocation ${id} did not finish within ${req.timeoutMs} ms`,
          ),
        ),
      req.timeoutMs,
    );
    r.timer.unref();
    for (const w of new Set(placement.groups)) this.adjustInflight(w, +1);
    const ctx = {
      tenant: this.o.tenant ?? 'default',
      deadline: r.deadline,
      input,
      master: this.o.masterUrl(),
      mode: this.o.mode,
      ...(harvest ? { harvest: harvest.ctx } : {}),
    };
    const byUrl = new Map<string, Trigger[]>();
    for (const node of v.dag.sources) {
      const owner = placement.groups[v.partition.groupOf[node]!]!;
      const t: Trigger = {
        invocationId: id,
        workflow: v.name,
        version: v.version,
        node,
        from: null,
        ref: input,
        placement,
        ctx,
      };
      const url = placement.workers[owner]!;
      byUrl.set(url, [...(byUrl.get(url) ?? []), t]);
    }
    // Not awaited: a worker that dies before taking the start is caught by the death sweep or
    // the delivery deadline, and the caller waits on `r.done` either way.
    for (const [url, triggers] of byUrl) {
      this.o.sender
        .send(url, triggers, r.deadline)
        .catch((err: unknown) => this.finish(r, 'failed', undefined, AppError.from(err)));
    }
    return r;
  }

  private placement(v: WorkflowVersion, workers: WorkerView[], key: string): Placement {
    const groups = place({
      strategy: this.o.placement,
      workers: workers.map((w) => ({
        id: w.id,
        cpu: w.capacity.cpu,
        memoryMb: w.capacity.memoryMb,
        load: w.load.running + w.load.queued + w.inflight,
      })),
      groups: v.partition.groups.length,
      weights: v.partition.groups.map((g) => g.length),
      memoryMb: groupMemoryMb(v),
      key,
      cursor: this.cursor,
      affinity: this.lastPlacement.get(`${v.name}@${v.version}`) ?? [],
    });
    this.lastPlacement.set(`${v.name}@${v.version}`, groups);
    this.cursor += v.partition.groups.length;
    const urls: Record<string, string> = {};
    for (const w of workers) if (groups.includes(w.id)) urls[w.id] = w.url;
    return { groups, workers: urls };
  }

  private inputRef(r: InvocationRecord, buf: Buffer): StoredRef {
    if (buf.length <= this.o.inlineMaxBytes)
      return { tier: 'inline', data: buf.toString('base64'), sizeBytes: buf.length };
    const key = `input:${r.id}:${randomBytes(4).toString('hex')}`;
    this.inputs.set(key, buf);
    r.inputKey = key;
    return { tier: 'peer', key, worker: 'master', url: this.o.masterUrl(), sizeBytes: buf.length };
  }

  /** Worker reports, in any order and possibly repeated. */
  accept(reports: readonly Report[]): void {
    for (const rep of reports) {
      const r = this.records.get(rep.invocationId);
      if (!r) continue;
      switch (rep.kind) {
        case 'step': {
          const key = `${rep.step.node}|${rep.step.worker}|${rep.step.startedAt}`;
          if (r.stepKeys.has(key)) break;
          r.stepKeys.add(key);
          if (r.steps.length < MAX_STEPS) r.steps.push(rep.step);
          else r.stepsDropped++;
          if (!rep.step.node.includes('[')) r.stepped.add(rep.step.node);
          if (r.sinksDone) this.maybeComplete(r);
          break;
        }
        case 'sink':
          if (r.status !== 'running' || !r.pendingSinks.delete(rep.node)) break;
          r.sinkOutputs.set(rep.node, rep.skipped ? null : (rep.output ?? null));
          if (r.pendingSinks.size === 0) {
            r.sinksDone = true;
            this.maybeComplete(r);
          }
          break;
        case 'failed':
          this.finish(r, 'failed', undefined, AppError.fromWire(rep.error));
          break;
      }
    }
  }

  /** MasterSP: every trigger comes here and is forwarded to the worker that owns its node. */
  relay(triggers: readonly Trigger[]): void {
    const byUrl = new Map<string, Trigger[]>();
    for (const t of triggers) {
      const r = this.records.get(t.invocationId);
      if (!r || r.status !== 'running') continue;
      const v = this.o.catalog.versions(r.workflow).find((x) => x.version === r.version);
      const group = v?.partition.groupOf[t.node];
      const owner = group === undefined ? undefined : r.placement.groups[group];
      const url = owner === undefined ? undefined : r.placement.workers[owner];
      if (url === undefined)
        throw new AppError(
          'BAD_REQUEST',
          `cannot route node ${t.node} of invocation ${t.invocationId}`,
        );
      byUrl.set(url, [...(byUrl.get(url) ?? []), t]);
    }
    for (const [url, list] of byUrl) {
      this.o.sender.send(url, list, list[0]!.ctx.deadline).catch((err: unknown) => {
        const r = this.records.get(list[0]!.invocationId);
        if (r) this.finish(r, 'failed', undefined, AppError.from(err));
      });
    }
  }

  /**
   * Every sink is done. Steps of other workers may still be in flight (reports from different
   * workers are not ordered), so the result waits until every node has its step — at most
   * `TIMELINE_GRACE_MS` — and callers then see a complete timeline.
   */
  private maybeComplete(r: InvocationRecord): void {
    if (r.status !== 'running') return;
    const nodes =
      this.o.catalog.versions(r.workflow).find((x) => x.version === r.version)?.dag.nodes.length ??
      0;
    if (r.stepped.size >= nodes) {
      if (r.completeTimer) clearTimeout(r.completeTimer);
      this.complete(r);
    } else {
      r.completeTimer ??= setTimeout(() => this.complete(r), TIMELINE_GRACE_MS);
    }
  }

  private complete(r: InvocationRecord): void {
    if (r.status !== 'running' || r.completing) return;
    r.completing = true;
    this.assembleOutput(r).then(
      (output) => this.finish(r, 'succeeded', output),
      (err: unknown) => this.finish(r, 'failed', undefined, AppError.from(err)),
    );
  }

  private async assembleOutput(r: InvocationRecord): Promise<unknown> {
    const v = this.o.catalog.versions(r.workflow).find((x) => x.version === r.version);
    if (!v)
      throw new AppError(
        'WORKFLOW_NOT_FOUND',
        `workflow ${r.workflow} version ${r.version} was deleted while running`,
      );
    const values = new Map<string, Arrival>();
    await Promise.all(
      [...r.sinkOutputs].map(async ([node, ref]) => {
        if (ref === null) return values.set(node, { skip: true });
        const owner = r.placement.groups[v.partition.groupOf[node]!]!;
        const buf =
          ref.tier === 'inline'
            ? Buffer.from(ref.data, 'base64')
            : await this.fetchObject(r.placement.workers[owner]!, ref);
        return values.set(node, { skip: false, value: decodeValue(buf) });
      }),
    );
    let out = assemble(v.dag.output, (n) => values.get(n), null);
    if (v.dag.outputExpr !== undefined) {
      try {
        out = (await jsonata(v.dag.outputExpr).evaluate(out)) as unknown;
      } catch (err) {
        throw new AppError(
          'FUNCTION_FAILED',
          `workflow output expression failed: ${(err as Error).message}`,
          { retryable: false },
        );
      }
    }
    return toJsonSafe(out ?? null);
  }

  /** A read: a connection reset by a busy worker is retried (3 attempts) rather than failing the invocation. */
  private async fetchObject(url: string, ref: StoredRef): Promise<Buffer> {
    let res;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await this.o.http.request(`${url}/v1/objects/fetch`, {
          method: 'POST',
          body: JSON.stringify({ ref }),
          contentType: 'application/json',
          timeoutMs: 30_000,
        });
        break;
      } catch (err) {
        if (attempt >= 3 || !AppError.from(err).retryable) throw err;
        await delay(backoffMs(attempt, { baseMs: 20, maxMs: 200 }));
      }
    }
    if (res.status !== 200)
      throw new AppError(
        'STORE_UNAVAILABLE',
        `fetching the output from ${url} failed with ${res.status}: ${res.body.toString('utf8', 0, 200)}`,
      );
    return res.body;
  }

  private finish(
    r: InvocationRecord,
    status: InvocationRecord['status'],
    output?: unknown,
    error?: AppError,
  ): void {
    if (r.status !== 'running') return;
    r.status = status;
    r.finishedAt = Date.now();
    if (status === 'succeeded') r.output = output;
    if (error) r.error = error.toWire();
    if (r.timer) clearTimeout(r.timer);
    if (r.completeTimer) clearTimeout(r.completeTimer);
    if (r.inputKey) this.inputs.delete(r.inputKey);
    for (const w of new Set(r.placement.groups)) this.adjustInflight(w, -1);
    r.settle();
    this.release(r);
    const hooks = this.o.harvest;
    if (hooks && status === 'succeeded' && r.harvest) {
      const v = this.o.catalog.versions(r.workflow).find((x) => x.version === r.version);
      if (v) setImmediate(() => hooks.finished(r, v));
    }
    this.o.logger.debug({ invocationId: r.id, status }, 'invocation finished');
  }

  /**
   * Workers free an invocation's state and objects when told. Releases for one worker linger
   * `RELEASE_LINGER_MS` and go in one request (one in flight per worker): on a busy cluster that
   * is one message per worker every few invocations instead of one per invocation, sent while
   * the next invocations run rather than between them.
   */
  private release(r: InvocationRecord): void {
    for (const url of new Set(Object.values(r.placement.workers))) {
      const list = this.releases.get(url);
      if (list !== undefined) {
        list.push(r.id);
        continue;
      }
      this.releases.set(url, [r.id]);
      if (!this.releasing.has(url))
        setTimeout(() => this.sendReleases(url), RELEASE_LINGER_MS).unref();
    }
  }

  private sendReleases(url: string): void {
    const queued = this.releases.get(url);
    if (!queued || queued.length === 0 || this.releasing.has(url)) return;
    // At most RELEASE_BATCH ids per request (workers take 10,000); the rest go next.
    const ids = queued.splice(0, RELEASE_BATCH);
    if (queued.length === 0) this.releases.delete(url);
    this.releasing.add(url);
    this.o.http
      .json(`${url}/v1/invocations/release`, 'POST', { invocationIds: ids }, 10_000)
      .then(() => {
        if (this.retriedReleases.size > 0) for (const id of ids) this.retriedReleases.delete(id);
      })
      .catch((err: unknown) => {
        // A worker that is gone frees nothing anyway; one that was slow gets them once more
        // (release is idempotent), and its own sweep drops whatever is still left after that.
        if (AppError.from(err).retryable && !this.retriedReleases.has(ids[0]!)) {
          for (const id of ids) this.retriedReleases.add(id);
          this.releases.set(url, [...ids, ...(this.releases.get(url) ?? [])]);
        } else {
          for (const id of ids) this.retriedReleases.delete(id);
          this.o.logger.warn({ err, worker: url, invocations: ids.length }, 'release failed');
        }
      })
      .finally(() => {
        this.releasing.delete(url);
        this.sendReleases(url);
      });
  }

  private adjustInflight(workerId: string, delta: number): void {
    const w = this.o.registry.get(workerId);
    if (w) w.inflight = Math.max(0, w.inflight + delta);
  }

  private onWorkerDeath(w: WorkerView): void {
    this.o.deployments.forget(w.id);
    for (const r of this.records.values()) {
      if (r.status === 'running' && r.placement.groups.includes(w.id)) {
        this.finish(
          r,
          'failed',
          undefined,
          new AppError(
            'WORKER_UNREACHABLE',
            `worker ${w.id} stopped responding while running invocation ${r.id}`,
          ),
        );
      }
    }
  }

  cancel(id: string): InvocationRecord {
    const r = this.get(id);
    this.finish(
      r,
      'cancelled',
      undefined,
      new AppError('CANCELLED', `invocation ${id} was cancelled`),
    );
    return r;
  }

  private trim(): void {
    if (this.records.size <= this.o.retain) return;
    for (const [id, r] of this.records) {
      if (this.records.size <= this.o.retain) break;
      if (r.status !== 'running') this.records.delete(id);
    }
  }

  close(): void {
    for (const r of this.records.values()) {
      if (r.status === 'running')
        this.finish(
          r,
          'cancelled',
          undefined,
          new AppError('CANCELLED', 'the master is shutting down'),
        );
    }
  }

  /** The dashboard's list: newest first, filtered and paged (list.ts). */
  list(f: InvocationFilter): InvocationPage {
    return listInvocations([...this.records.values()], f, this.o.tenant ?? 'default');
  }
}

/** MB the warm sandboxes of each partition group take (foreach bodies at their concurrency). */
function groupMemoryMb(v: WorkflowVersion): number[] {
  const nodes = new Map(v.dag.nodes.map((n) => [n.id as string, n]));
  const bodyMb = (dag: WorkflowVersion['dag']): number =>
    dag.nodes.reduce(
      (sum, n) => sum + (n.kind === 'task' ? (v.dag.functions[n.fn]?.memoryMb ?? 0) : 0),
      0,
    );
  return v.partition.groups.map((group) =>
    group.reduce((sum, id) => {
      const n = nodes.get(id);
      if (n?.kind === 'task') return sum + (v.dag.functions[n.fn]?.memoryMb ?? 0);
      if (n?.kind === 'foreach')
        return sum + bodyMb(n.body) * Math.min(n.concurrency, n.estimatedWidth);
      return sum;
    }, 0),
  );
}
