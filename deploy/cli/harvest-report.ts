/**
 * Text the harvesting commands print: a workflow's model set with its held-out accuracy in the
 * thesis's metrics (mean error ΔP, % error, share accurate: P + ΔP < A(P)), and its profile
 * counts. Pure: the master's JSON answer in, lines out.
 */
import type { ModelsView } from '../../master/harvest/harvester.js';
import type { AccuracyStats, ErrorStats } from '../../shared/harvest/metrics.js';
import type { ModelSummary, ProfileStats } from '../../master/harvest/store.js';

/** Columns padded to their widest cell; the first left-aligned, the rest right-aligned. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map(
    (r) =>
      indent +
      r
        .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
  );
}

export function bytes(n: number | null): string {
  if (n === null) return '-';
  const abs = Math.abs(n);
  if (abs >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (abs >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n.toFixed(0)} B`;
}

const pct = (n: number | null): string => (n === null ? '-' : `${n.toFixed(1)}%`);
const share = (n: number | null): string => (n === null ? '-' : `${(n * 100).toFixed(0)}%`);
const cores = (n: number | null): string => (n === null ? '-' : n.toFixed(2));
const mb = (n: number | null): string => (n === null ? '-' : n.toFixed(1));

function accuracyCells(cpu: AccuracyStats, memory: AccuracyStats): string[] {
  return [
    String(cpu.n),
    cores(cpu.meanAbsError),
    pct(cpu.meanPctError),
    share(cpu.accuracy),
    mb(memory.meanAbsError),
    pct(memory.meanPctError),
    share(memory.accuracy),
  ];
}

function inputCells(s: ErrorStats): string[] {
  return [String(s.n), bytes(s.meanAbsError), pct(s.meanPctError)];
}

/** The held-out evaluation of one model set, as two tables. */
export function accuracyLines(m: ModelSummary): string[] {
  const e = m.evaluation;
  if (!e)
    return [
      'held-out accuracy: none (fewer than 2 profiled invocations: nothing could be held out)',
    ];
  const out = [
    `held-out accuracy on ${e.testRecords} records of ${e.testInvocations} invocations (thesis §4.1; accurate: P + ΔP < A(P))`,
    ...table([
      ['ML1: input size, per stage', 'n', 'mean error', '% error'],
      ...e.ml1.map((x) => [`  ${x.stage}`, ...inputCells(x.inputBytes)]),
      ['  all stages', ...inputCells(e.overall.inputBytes)],
    ]),
    ...table([
      [
        'ML2: peaks, per function',
        'n',
        'CPU err (cores)',
        'CPU % err',
        'CPU accurate',
        'mem err (MB)',
        'mem % err',
        'mem accurate',
      ],
      ...e.ml2.map((x) => [`  ${x.function}`, ...accuracyCells(x.cpu, x.memory)]),
      ['  all functions', ...accuracyCells(e.overall.cpu, e.overall.memory)],
      ['  ML1 → ML2 (as decided)', ...accuracyCells(e.pipeline.cpu, e.pipeline.memory)],
      ...(e.pipeline.thesisGrid
        ? [
            [
              "  the same, thesis's grid",
              ...accuracyCells(e.pipeline.thesisGrid.cpu, e.pipeline.thesisGrid.memory),
            ],
          ]
        : []),
    ]),
  ];
  if (e.withoutMl1 > 0 || e.withoutMl2 > 0)
    out.push(
      `  not covered: ${e.withoutMl1} test records without an ML1 model, ${e.withoutMl2} without an ML2 model`,
    );
  return out;
}

export function profileLine(p: ProfileStats): string {
  const skipped = Object.entries(p.skipped).filter(([, n]) => (n ?? 0) > 0);
  const none = skipped.reduce((s, [, n]) => s + (n ?? 0), 0);
  const why = skipped
    .map(([k, n]) =>
      k === 'no-peaks'
        ? `${n} without peak measurements (the workers reported no peak CPU/memory)`
        : `${n} ${k}`,
    )
    .join(', ');
  return `profiles: ${p.stored} stored (${p.appended} recorded in all)${none > 0 ? `; ${none} runs gave no record: ${why}` : ''}`;
}

export function summaryLines(m: ModelSummary): string[] {
  const skipped =
    m.skipped.length === 0
      ? 'none'
      : m.skipped.map((s) => `${s.model.toUpperCase()} ${s.key} (${s.message})`).join('; ');
  return [
    `model set v${m.version}, trained ${new Date(m.trainedAt).toISOString()} in ${m.trainMs} ms (${bytes(m.sizeBytes)} gzipped)`,
    `  records: ${m.records} read, ${m.excluded} excluded (CPU-capped runs), ${m.trainRecords} trained on, ${m.testRecords} held out`,
    `  models: ${m.ml1} ML1 (per stage), ${m.ml2} ML2 (per function); not trained: ${skipped}`,
  ];
}

/** `faasflow models WORKFLOW`: the current set, its accuracy, the profiles and the history. */
export function modelsReport(v: ModelsView): string {
  const lines = [`${v.workflow}:`];
  if (v.current) lines.push(...summaryLines(v.current).map((l) => `  ${l}`));
  else lines.push('  no model set yet (train with: faasflow models ' + v.workflow + ' --train)');
  lines.push(`  ${profileLine(v.profiles)}`);
  const t = v.training;
  lines.push(
    `  training: ${t.running ? 'running' : t.queued ? 'queued' : 'idle'}; ${t.newRecords} new records since the last (retrains every ${t.retrainEvery}, needs ${t.minRecords})${t.lastError ? `; last error: ${t.lastError.message}` : ''}`,
  );
  if (v.current) lines.push('', ...accuracyLines(v.current));
  if (v.history.length > 1)
    lines.push(
      '',
      `history: ${v.history
        .map(
          (h) =>
            `v${h.version} (${h.records} records, CPU accurate ${share(h.evaluation?.pipeline.cpu.accuracy ?? null)})`,
        )
        .join(', ')}`,
    );
  return lines.join('\n');
}
