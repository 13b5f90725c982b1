/**
 * The faasflow side of `faasflow bench peer`: a local cluster from dist/ (master + 2 workers as
 * processes, process sandboxes) whose workers keep cross-worker data in the same Redis BullMQ
 * uses, under a key prefix of the bench's own, and the fixtures of bench/workflows/peer/.
 *
 * An invocation is the master's `POST /v1/workflows/:name/invocations` with `wait: true`
 * (BenchClient), which answers once the workflow's output is there.
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

  private constructor(
    private readonly cluster: LocalCluster,
    private readonly client: BenchClient,
  ) {}

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
    return new FaasflowPeer(cluster, new BenchClient(cluster.masterUrl, o.connections));
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
    const deployed = await this.client.deploy(text);
    this.names.set(`${shape}-${payload}-${tier}`, deployed.name);
    return deployed.groups;
  }

  /** Runs one invocation to its end; resolves with its id, rejects unless it succeeded. */
  async invoke(
    shape: ShapeName,
    payload: PayloadName,
    input: unknown,
    tier: Tier = null,
  ): Promise<string> {
    const name = this.names.get(`${shape}-${payload}-${tier}`);
    if (name === undefined) throw new Error(`${shape}-${payload} (${tier}) is not deployed`);
    const r = await this.client.invoke(name, input);
    if (r.status !== 'succeeded')
      throw new Error(`${name}: ${r.status}: ${r.error ?? 'no error message'}`);
    return r.invocationId;
  }

  /** The output of a finished invocation, read back from the master. */
  async output(invocationId: string): Promise<unknown> {
    const view = (await this.client.invocation(invocationId)) as { output?: unknown };
    return view.output;
  }

  async close(): Promise<void> {
    await this.client.close();
    await this.cluster.stop();
  }
}
