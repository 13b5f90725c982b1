/**
 * The deployed workflows: every version of every workflow with its DAG, partition and handler
 * files. A new version is added only after it validated completely, so a bad upload never
 * replaces or damages what is stored. Deleting removes every version.
 */
import type { WorkflowDag } from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import type { PartitionResult } from '../partition/index.js';

export interface WorkflowVersion {
  name: string;
  version: number;
  dag: WorkflowDag;
  partition: PartitionResult;
  /** Handler files (base64) by relative path. */
  files: Record<string, string>;
  warnings: string[];
  createdAt: string;
}

export class WorkflowCatalog {
  private readonly workflows = new Map<string, WorkflowVersion[]>();
  /** Highest version ever given per name, kept across `remove` so `name@version` is never reused. */
  private readonly lastVersion = new Map<string, number>();

  add(
    entry: Omit<WorkflowVersion, 'version' | 'createdAt'>,
    now: Date = new Date(),
  ): WorkflowVersion {
    const versions = this.workflows.get(entry.name) ?? [];
    const version = (this.lastVersion.get(entry.name) ?? 0) + 1;
    const v: WorkflowVersion = { ...entry, version, createdAt: now.toISOString() };
    this.lastVersion.set(entry.name, version);
    versions.push(v);
    this.workflows.set(entry.name, versions);
    return v;
  }

  latest(name: string): WorkflowVersion {
    const v = this.workflows.get(name)?.at(-1);
    if (!v) throw notFound(name);
    return v;
  }

  versions(name: string): WorkflowVersion[] {
    const list = this.workflows.get(name);
    if (!list) throw notFound(name);
    return list;
  }

  /** The newest version of every workflow. */
  current(): WorkflowVersion[] {
    return [...this.workflows.values()]
      .map((l) => l.at(-1)!)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  remove(name: string): void {
    if (!this.workflows.delete(name)) throw notFound(name);
  }
}

function notFound(name: string): AppError {
  return new AppError(
    'WORKFLOW_NOT_FOUND',
    `workflow ${JSON.stringify(name)} is not deployed (GET /v1/workflows lists the deployed ones)`,
  );
}
