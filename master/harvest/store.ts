/**
 * Where harvesting keeps what must outlive the master: per workflow, its profile records (the
 * most recent `profileLimit`, oldest first), counters of runs that gave no record, the model
 * sets' version counter, the latest model set (gzipped JSON) and summaries of the last ones.
 *
 * The interface is what the harvester talks to; `redis-store.ts` is the real backend (the only
 * master file importing ioredis) and `MemoryHarvestStore` here is its in-process twin for tests
 * of the layers above. Both pass the same contract (test/integration/harvest-store.test.ts).
 *
 * Invariants: appends keep at most `profileLimit` records per workflow, dropping the oldest;
 * reads never scan the keyspace; model versions only grow.
 */
import type { Evaluation, SkippedModel } from '../../shared/harvest/model-set.js';
import type { ProfileRecord } from './profile.js';

/** Why a function run gave no profile record (see `recorder.ts`). */
export type SkipReason = 'no-peaks' | 'not-profiled' | 'invalid';

export interface ProfileStats {
  /** Records kept now (at most `profileLimit`). */
  stored: number;
  /** Records ever appended. */
  appended: number;
  /** Function runs that gave no record, by reason. */
  skipped: Partial<Record<SkipReason, number>>;
}

/** What is listed about a trained model set without loading its forests. */
export interface ModelSummary {
  version: number;
  trainedAt: number;
  /** Records the training read, before excluding any. */
  records: number;
  /** Records left out of training: CPU peak at a capped allocation, throttled, or under CPU pressure. */
  excluded: number;
  trainRecords: number;
  testRecords: number;
  ml1: number;
  ml2: number;
  skipped: SkippedModel[];
  /** Held-out evaluation; null when too few invocations to hold any out. */
  evaluation: Evaluation | null;
  /** Wall time of the training, ms. */
  trainMs: number;
  /** Size of the stored model set, gzipped. */
  sizeBytes: number;
}

export interface HarvestStore {
  /** Appends records (in order) and counts skipped runs; trims to the newest `profileLimit`. */
  appendProfiles(
    workflow: string,
    records: readonly ProfileRecord[],
    skipped?: Partial<Record<SkipReason, number>>,
  ): Promise<void>;
  profileStats(workflow: string): Promise<ProfileStats>;
  /** Records `offset .. offset + count − 1`, oldest first. */
  readProfiles(workflow: string, offset: number, count: number): Promise<ProfileRecord[]>;
  /** The newest `count` records, oldest first. */
  recentProfiles(workflow: string, count: number): Promise<ProfileRecord[]>;
  /** A model-set version never handed out before for this workflow (1, 2, …). */
  nextModelVersion(workflow: string): Promise<number>;
  /** Stores the model set (gzipped `modelSetToJson`) as the workflow's current one. */
  saveModelSet(workflow: string, gzipped: Buffer, summary: ModelSummary): Promise<void>;
  /** The current model set, gzipped, and its summary; null when none was trained. */
  loadModelSet(workflow: string): Promise<{ gzipped: Buffer; summary: ModelSummary } | null>;
  /** Summaries of the latest model sets, newest first. */
  modelHistory(workflow: string, limit: number): Promise<ModelSummary[]>;
  close(): Promise<void>;
}

/** Model summaries kept per workflow. */
export const MODEL_HISTORY = 50;

/** Parses one stored record; null when it is not one (the caller logs and skips it). */
export function parseStoredRecord(text: string): ProfileRecord | null {
  try {
    const r = JSON.parse(text) as ProfileRecord;
    return typeof r === 'object' && r !== null && typeof r.workflow === 'string' ? r : null;
  } catch {
    return null;
  }
}

export class MemoryHarvestStore implements HarvestStore {
  private readonly profiles = new Map<string, ProfileRecord[]>();
  private readonly stats = new Map<string, ProfileStats>();
  private readonly versions = new Map<string, number>();
  private readonly models = new Map<string, { gzipped: Buffer; summary: ModelSummary }>();
  private readonly history = new Map<string, ModelSummary[]>();

  constructor(private readonly profileLimit: number) {}

  appendProfiles(
    workflow: string,
    records: readonly ProfileRecord[],
    skipped: Partial<Record<SkipReason, number>> = {},
  ): Promise<void> {
    const list = [
      ...(this.profiles.get(workflow) ?? []),
      ...records.map((r) => structuredClone(r)),
    ];
    this.profiles.set(workflow, list.slice(Math.max(0, list.length - this.profileLimit)));
    const s = this.stats.get(workflow) ?? { stored: 0, appended: 0, skipped: {} };
    s.appended += records.length;
    for (const [k, n] of Object.entries(skipped) as [SkipReason, number][])
      if (n > 0) s.skipped[k] = (s.skipped[k] ?? 0) + n;
    this.stats.set(workflow, s);
    return Promise.resolve();
  }

  profileStats(workflow: string): Promise<ProfileStats> {
    const s = this.stats.get(workflow) ?? { stored: 0, appended: 0, skipped: {} };
    return Promise.resolve({
      stored: this.profiles.get(workflow)?.length ?? 0,
      appended: s.appended,
      skipped: { ...s.skipped },
    });
  }

  readProfiles(workflow: string, offset: number, count: number): Promise<ProfileRecord[]> {
    const list = this.profiles.get(workflow) ?? [];
    return Promise.resolve(list.slice(offset, offset + count).map((r) => structuredClone(r)));
  }

  recentProfiles(workflow: string, count: number): Promise<ProfileRecord[]> {
    const list = this.profiles.get(workflow) ?? [];
    return Promise.resolve(
      list.slice(Math.max(0, list.length - count)).map((r) => structuredClone(r)),
    );
  }

  nextModelVersion(workflow: string): Promise<number> {
    const v = (this.versions.get(workflow) ?? 0) + 1;
    this.versions.set(workflow, v);
    return Promise.resolve(v);
  }

  saveModelSet(workflow: string, gzipped: Buffer, summary: ModelSummary): Promise<void> {
    this.models.set(workflow, { gzipped: Buffer.from(gzipped), summary: structuredClone(summary) });
    const h = [structuredClone(summary), ...(this.history.get(workflow) ?? [])];
    this.history.set(workflow, h.slice(0, MODEL_HISTORY));
    return Promise.resolve();
  }

  loadModelSet(workflow: string): Promise<{ gzipped: Buffer; summary: ModelSummary } | null> {
    const m = this.models.get(workflow);
    return Promise.resolve(
      m ? { gzipped: Buffer.from(m.gzipped), summary: structuredClone(m.summary) } : null,
    );
  }

  modelHistory(workflow: string, limit: number): Promise<ModelSummary[]> {
    return Promise.resolve((this.history.get(workflow) ?? []).slice(0, limit));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
