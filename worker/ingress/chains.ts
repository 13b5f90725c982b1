/**
 * Prepares ahead for invocations this worker takes on its own API (docs/guides/chains.md): the
 * master learns the chain model from every invocation and keeps the budget prices; this worker
 * plans with a kit of them per workflow (`GET /v1/internal/chains/:workflow`: the workflow's and
 * its successors' part of the model, their prices), fetched off the invocation's path and
 * refreshed in the background every `refreshMs`.
 *
 * Invariants: `get` never waits for the master — a workflow without a kit here yet is not planned
 * this time, one whose kit is older than `maxAgeMs` neither; one fetch per workflow at a time; a
 * failed fetch is retried no sooner than `refreshMs` later; at most `limit` kits are held (the
 * least recently fetched goes first).
 */
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { parseChainModel, type ChainKit } from '../../shared/chains/index.js';

/** Reads a kit from the master: the JSON body of GET /v1/internal/chains/:workflow. */
export type FetchChainKit = (master: string, workflow: string) => Promise<unknown>;

export interface IngressChainsOptions {
  /** A kit is refreshed after this long, ms. Default 2,000. */
  refreshMs?: number;
  /** A kit older than this is not planned with, ms. Default 60,000. */
  maxAgeMs?: number;
  /** Kits held at most. Default 1,000. */
  limit?: number;
  now?: () => number;
}

interface Held {
  kit: ChainKit;
  fetchedAt: number;
}

export class IngressChains {
  private readonly kits = new Map<string, Held>();
  /** Workflow → when its last fetch began (a fetch in flight, or a failed one not to repeat yet). */
  private readonly tried = new Map<string, { at: number; inFlight: boolean }>();
  private readonly refreshMs: number;
  private readonly maxAgeMs: number;
  private readonly limit: number;
  private readonly now: () => number;

  constructor(
    private readonly fetchKit: FetchChainKit,
    private readonly logger: Logger,
    o: IngressChainsOptions = {},
  ) {
    this.refreshMs = o.refreshMs ?? 2_000;
    this.maxAgeMs = o.maxAgeMs ?? 60_000;
    this.limit = o.limit ?? 1_000;
    this.now = o.now ?? Date.now;
  }

  /** The kit to plan `workflow` with now, if one fresh enough is held; refreshes it when due. */
  get(workflow: string, master: string): ChainKit | undefined {
    const now = this.now();
    const held = this.kits.get(workflow);
    const tried = this.tried.get(workflow);
    const due = held === undefined || now - held.fetchedAt >= this.refreshMs;
    if (due && !(tried !== undefined && (tried.inFlight || now - tried.at < this.refreshMs)))
      void this.fetch(master, workflow, now);
    return held !== undefined && now - held.fetchedAt <= this.maxAgeMs ? held.kit : undefined;
  }

  /** Workflows with a kit here and its age, ms (diagnostics and tests). */
  held(): Record<string, number> {
    const now = this.now();
    return Object.fromEntries([...this.kits].map(([w, h]) => [w, now - h.fetchedAt]));
  }

  private async fetch(master: string, workflow: string, at: number): Promise<void> {
    const mark = { at, inFlight: true };
    this.tried.set(workflow, mark);
    try {
      const kit = readKit(await this.fetchKit(master, workflow), workflow);
      this.kits.delete(workflow); // re-inserted last: the map's order is fetch order
      this.kits.set(workflow, { kit, fetchedAt: this.now() });
      if (this.kits.size > this.limit) this.kits.delete(this.kits.keys().next().value!);
      if (this.tried.get(workflow) === mark) this.tried.delete(workflow);
    } catch (err) {
      mark.inFlight = false;
      this.logger.debug({ err, workflow }, 'chain kit could not be fetched from the master');
    }
  }
}

/** Checks a kit as it came over the wire (the model through its versioned reader). */
export function readKit(body: unknown, workflow: string): ChainKit {
  const b = body as Partial<ChainKit> | null;
  if (
    b === null ||
    typeof b !== 'object' ||
    b.workflow !== workflow ||
    typeof b.at !== 'number' ||
    b.prices === null ||
    typeof b.prices !== 'object' ||
    Object.values(b.prices).some((p) => typeof p !== 'number' || !(p >= 0))
  )
    throw new AppError(
      'INTERNAL',
      `the master's chain kit of ${workflow} is malformed (want { workflow, model, prices, at })`,
    );
  return {
    workflow,
    model: parseChainModel(JSON.stringify(b.model)),
    prices: b.prices,
    at: b.at,
  };
}
