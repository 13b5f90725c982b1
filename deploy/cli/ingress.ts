/**
 * Spreading invocations over the workers' own invocation APIs (docs/design.md §4): the ready
 * workers come from the master's `GET /v1/workers`; a one-shot client takes the least loaded,
 * a long-lived one deals invocations to them in turn (`IngressRing`) and reads the list again
 * now and then, so workers that join or leave are followed.
 */
import { call, CliError } from './client.js';

interface WorkerRow {
  url: string;
  status: string;
  load?: { running?: number; queued?: number; inflight?: number };
}

/** The base URLs of the ready workers, by id. */
export async function ingressUrls(master: string): Promise<string[]> {
  const rows = await readyWorkers(master);
  return rows.map((w) => w.url);
}

async function readyWorkers(master: string): Promise<WorkerRow[]> {
  const r = (await call(master, 'GET', '/v1/workers')) as { workers?: WorkerRow[] };
  const ready = (r.workers ?? []).filter((w) => w.status === 'ready');
  if (ready.length === 0)
    throw new CliError(
      `no ready worker at ${master} to take the invocation; start one with faasflow worker`,
    );
  return ready;
}

/** The ready worker with the least work now (ties: the first by id). */
export async function pickIngress(master: string): Promise<string> {
  const rows = await readyWorkers(master);
  const load = (w: WorkerRow): number =>
    (w.load?.running ?? 0) + (w.load?.queued ?? 0) + (w.load?.inflight ?? 0);
  return rows.reduce((best, w) => (load(w) < load(best) ? w : best)).url;
}

/** Round-robin over a set of ingress URLs. */
export class IngressRing {
  private next = 0;

  constructor(private urls: readonly string[]) {
    if (urls.length === 0) throw new CliError('no ingress to send invocations to');
  }

  pick(): string {
    const url = this.urls[this.next % this.urls.length]!;
    this.next++;
    return url;
  }

  get size(): number {
    return this.urls.length;
  }

  replace(urls: readonly string[]): void {
    if (urls.length > 0) this.urls = urls;
  }
}
