/**
 * The invocation list the dashboard pages through: newest first, filtered by workflow, status
 * and tenant, `limit` per page, continuing `before` an invocation id. Pure over the records the
 * manager keeps (insertion order is start order), so paging is stable while new ones arrive.
 */
import { AppError } from '../../shared/errors.js';
import { splitQualified } from '../../shared/tenancy.js';
import {
  invocationHead,
  type InvocationHead,
  type InvocationRecord,
  type InvocationStatus,
} from '../../shared/invocation/record.js';

export interface InvocationFilter {
  workflow?: string;
  status?: InvocationStatus;
  tenant?: string;
  /** Most records in one page. */
  limit: number;
  /** Continue after this invocation id (the previous page's `next`). */
  before?: string;
}

export interface InvocationSummary extends InvocationHead {
  steps: number;
  errorCode: string | null;
}

export interface InvocationPage {
  invocations: InvocationSummary[];
  /** Invocations matching the filter, over every page. */
  total: number;
  /** Pass as `before` for the next page; null on the last one. */
  next: string | null;
}

/**
 * `records` in start order (oldest first). `workflow` filters by qualified name, `tenant` by the
 * tenant that owns the record's workflow; summaries show the public name and the tenant.
 */
export function listInvocations(
  records: readonly InvocationRecord[],
  f: InvocationFilter,
  now: number = Date.now(),
): InvocationPage {
  let end = records.length;
  if (f.before !== undefined) {
    end = records.findIndex((r) => r.id === f.before);
    if (end < 0)
      throw new AppError(
        'BAD_REQUEST',
        `before: invocation ${JSON.stringify(f.before)} is no longer kept; start again from the first page`,
      );
  }
  const matches = (r: InvocationRecord): boolean =>
    (f.workflow === undefined || r.workflow === f.workflow) &&
    (f.status === undefined || r.status === f.status) &&
    (f.tenant === undefined || splitQualified(r.workflow).tenant === f.tenant);
  const page: InvocationRecord[] = [];
  let total = 0;
  let more = false;
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (!matches(r)) continue;
    total++;
    if (i >= end) continue;
    if (page.length < f.limit) page.push(r);
    else more = true;
  }
  return {
    invocations: page.map((r) => summary(r, now)),
    total,
    next: more && page.length > 0 ? page[page.length - 1]!.id : null,
  };
}

function summary(r: InvocationRecord, now: number): InvocationSummary {
  return {
    ...invocationHead(r, now),
    steps: r.steps.length + r.stepsDropped,
    errorCode: r.error?.code ?? null,
  };
}
