/**
 * The faasflow side of `faasflow bench peer`: a local cluster from dist/ (master + 2 workers as
 * processes, process sandboxes) whose workers keep cross-worker data in the same Redis BullMQ
 * uses, under a key prefix of the bench's own, and the fixtures of bench/workflows/peer/.
 *
 * An invocation is `POST /v1/workflows/:name/invocations` with `wait: true` (BenchClient),
 * which answers once the workflow's output is there: on the master, or (`via: 'worker'`) on the
 * workers' own ingress, dealt to them in turn. `cpu()` reads every process's CPU time.
 */
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { LocalCluster } from '../deploy/local-cluster.js';
import { BenchClient } from './overhead-load.js';
import { fixturePath, type PayloadName, type ShapeName } from './peer-shapes.js';

export interface FaasflowPeerOptions {
  redisUrl: string;
  /** The workers' `--redis-prefix`. */
  redisPrefix: string;
  logDir: string;
  /** HTTP connections to the master: at least the open loop's callers. */
  connections: number;
}

export const WORKERS = 2;

/** The tier a workflow's functions run in; null: the workers' own sandbox (process). */
export type Tier = 'thread' | 'trusted' | null;

export class FaasflowPeer {
  private readonly names = new Map<string, string>();
  private ingress: string[] = [];
  private next = 0;

  private constructor(
    private readonly cluster: LocalCluster,
    private readonly client: BenchClient,
  ) {}

  /** Every process of the cluster by name (`master`, worker ids), for CPU readings. */
  private processes: Record<string, string> = {};

  /** The workers' URLs, once each can take invocations on its own API (it holds a view). */
  private async discover(): Promise<void> {
    const r = (await this.client.workers()) as { workers: { id: string; url: string }[] };
    this.ingress = r.workers.map((w) => w.url);
    this.processes = { master: this.cluster.masterUrl };
    for (const w of r.workers) this.processes[w.id] = w.url;
  }

  /** CPU time each process has used so far, µs. */
  cpu(): Promise<Record<string, number>> {
    return this.client.cpu(this.processes);
  }

  static async start(o: FaasflowPeerOptions): Promise<FaasflowPeer> {
    const cluster = new LocalCluster({
      workers: WORKERS,
      runtime: 'process',
      redisUrl: o.redisUrl,
      logDir: o.logDir,
      workerFlags: () => [`--redis-prefix=${o.redisPrefix}`],
    });
    try {
      await cluster.start();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    const peer = new FaasflowPeer(cluster, new BenchClient(cluster.masterUrl, o.connections));
    await peer.discover();
    return peer;
  }

  get masterUrl(): string {
    return this.cluster.masterUrl;
  }

  /**
   * Deploys the fixture of `shape` with `payload`, its functions in `tier` (null: the workers'
   * process sandboxes) under a name of its own; returns the workflow's groups.
   */
  async deploy(shape: ShapeName, payload: PayloadName, tier: Tier = null): Promise<string[][]> {
    let text = readFileSync(fixturePath(shape, payload), 'utf8');
    if (tier !== null) {
      const doc = parse(text) as { name: string; defaults?: unknown };
      text = stringify({ ...doc, name: `${doc.name}-${tier}`, defaults: { isolation: tier } });
    }
    const key = `${shape}-${payload}-${tier}`;
    const held = this.deployed.get(key);
    if (held) return held;
    const deployed = await this.client.deploy(text);
    this.names.set(key, deployed.name);
    this.deployed.set(key, deployed.groups);
    this.versions.push(`${deployed.name}@${deployed.version}`);
    return deployed.groups;
  }

  /** Groups of each deployed shape, payload and tier (systems sharing a tier share the deployment). */
  private readonly deployed = new Map<string, string[][]>();
  private readonly versions: string[] = [];

  /** Resolves once every worker's ingress can place every deployed version. */
  ingressReady(): Promise<void> {
    return this.client.viewsHold(this.ingress, this.versions);
  }

  /** Runs one invocation to its end; resolves with its id, rejects unless it succeeded. */
  async invoke(
    shape: ShapeName,
    payload: PayloadName,
    input: unknown,
    tier: Tier = null,
    via: 'master' | 'worker' = 'master',
  ): Promise<string> {
    const name = this.names.get(`${shape}-${payload}-${tier}`);
    if (name === undefined) throw new Error(`${shape}-${payload} (${tier}) is not deployed`);
    const at = via === 'worker' ? this.ingress[this.next++ % this.ingress.length]! : this.masterUrl;
    const r = await this.client.invoke(name, input, undefined, at);
    if (via === 'worker') this.tookIt.set(r.invocationId, at);
    if (r.status !== 'succeeded')
      throw new Error(`${name}: ${r.status}: ${r.error ?? 'no error message'}`);
    return r.invocationId;
  }

  /** Which ingress took an invocation (its record reaches the master later, in a batch). */
  private readonly tookIt = new Map<string, string>();

  /** The output of a finished invocation, read back from whoever coordinated it. */
  async output(invocationId: string): Promise<unknown> {
    const at = this.tookIt.get(invocationId);
    this.tookIt.delete(invocationId);
    const view = (await this.client.invocation(invocationId, at)) as { output?: unknown };
    return view.output;
  }

  async close(): Promise<void> {
    await this.client.close();
    await this.cluster.stop();
  }
}
