/**
 * Which worker holds which workflow version, and pushing versions to workers. A worker becomes
 * ready for placement only once it holds every current version; a version is placed only on the
 * workers that hold it.
 */
import type { HttpClient } from '../../shared/http-client.js';
import type { Logger } from '../../shared/logger.js';
import type { Deployment } from '../../shared/schema/wire.js';
import { deploymentsOf } from '../compose/variants.js';
import type { WorkflowVersion } from '../workflow/catalog.js';
import type { WorkerView } from './workers.js';

export class DeploymentTracker {
  private readonly held = new Map<string, Set<string>>();

  constructor(
    private readonly http: HttpClient,
    private readonly logger: Logger,
  ) {}

  holds(workerId: string, v: Pick<WorkflowVersion, 'name' | 'version'>): boolean {
    return this.held.get(workerId)?.has(`${v.name}@${v.version}`) ?? false;
  }

  forget(workerId: string): void {
    this.held.delete(workerId);
  }

  forgetWorkflow(name: string): void {
    for (const set of this.held.values())
      for (const k of [...set])
        if (k.startsWith(`${name}@`) || k.startsWith(`${name}~`)) set.delete(k);
  }

  /** Pushes a version (and each of its variants) to a worker; resolves true when it holds all. */
  async push(worker: WorkerView, v: WorkflowVersion): Promise<boolean> {
    let ok = true;
    for (const d of deploymentsOf(v)) ok = (await this.pushOne(worker, d)) && ok;
    return ok;
  }

  private async pushOne(worker: WorkerView, v: WorkflowVersion): Promise<boolean> {
    const body: Deployment = {
      workflow: v.name,
      version: v.version,
      dag: v.dag,
      groupOf: v.partition.groupOf,
      files: v.files,
    };
    try {
      await this.http.json(
        `${worker.url}/v1/deployments/${encodeURIComponent(v.name)}/${v.version}`,
        'PUT',
        body,
        60_000,
      );
      const set = this.held.get(worker.id) ?? new Set<string>();
      set.add(`${v.name}@${v.version}`);
      this.held.set(worker.id, set);
      return true;
    } catch (err) {
      this.logger.warn(
        { err, worker: worker.id, workflow: v.name, version: v.version },
        'deployment push failed',
      );
      return false;
    }
  }

  async undeploy(worker: WorkerView, name: string): Promise<void> {
    try {
      await this.http.json(
        `${worker.url}/v1/deployments/${encodeURIComponent(name)}`,
        'DELETE',
        undefined,
        30_000,
      );
    } catch (err) {
      this.logger.warn({ err, worker: worker.id, workflow: name }, 'undeploy failed');
    }
  }
}
