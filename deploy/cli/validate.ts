/** `faasflow validate FILE [--workers N] [--json]`: parse, check, compile and partition. */
import { partition } from '../../master/partition/index.js';
import { formatIssue, loadWorkflowFile } from '../../master/workflow/index.js';
import { estimateSharding, type WorkflowShardEstimate } from '../../shared/shard/estimate.js';

/** Free slots assumed per worker for the estimate: a worker's default sandboxes per function. */
const SLOTS_PER_WORKER = 8;

export interface ValidateOptions {
  workers: number;
  json: boolean;
  runtimeScale?: number;
}

/** Returns the exit code: 0 valid, 2 invalid (or unreadable). */
export async function validate(file: string, o: ValidateOptions): Promise<number> {
  let r: Awaited<ReturnType<typeof loadWorkflowFile>>;
  try {
    r = await loadWorkflowFile(
      file,
      o.runtimeScale === undefined ? {} : { runtimeScale: o.runtimeScale },
    );
  } catch (err) {
    const message = `cannot read ${file}: ${(err as Error).message}`;
    if (o.json)
      console.log(JSON.stringify({ valid: false, errors: [{ path: '', message }] }, null, 2));
    else console.error(`${file}: ${message}`);
    return 2;
  }
  if (!r.dag) {
    if (o.json) console.log(JSON.stringify({ valid: false, errors: r.issues }, null, 2));
    else {
      console.error(`${file}: ${r.issues.length} problem${r.issues.length === 1 ? '' : 's'}`);
      for (const i of r.issues) console.error(`  ${formatIssue(i)}`);
    }
    return 2;
  }
  const dag = r.dag;
  const p = partition(dag, { workers: o.workers });
  const sharding = estimateSharding(dag, { workers: o.workers, slotsPerWorker: SLOTS_PER_WORKER });
  const asksSharding = sharding.foreach.length > 0 || sharding.keyed.length > 0;
  const summary = {
    valid: true,
    name: dag.name,
    format: dag.format,
    nodes: dag.nodes.length,
    edges: dag.edges.length,
    sources: dag.sources,
    sinks: dag.sinks,
    functions: Object.keys(dag.functions).length,
    workers: o.workers,
    groups: p.groups,
    localBytes: p.localBytes,
    totalBytes: p.totalBytes,
    warnings: r.warnings,
    ...(asksSharding ? { sharding } : {}),
  };
  if (o.json) {
    console.log(JSON.stringify(summary, null, 2));
    return 0;
  }
  const pct = p.totalBytes === 0 ? 100 : (100 * p.localBytes) / p.totalBytes;
  console.log(`${dag.name}: valid (${dag.format} form)`);
  console.log(`  nodes ${summary.nodes}, edges ${summary.edges}, functions ${summary.functions}`);
  console.log(`  sources: ${dag.sources.join(', ')}`);
  console.log(`  sinks:   ${dag.sinks.join(', ')}`);
  console.log(
    `  groups on ${o.workers} worker${o.workers === 1 ? '' : 's'}: ${p.groups.length}; edge bytes kept local: ${pct.toFixed(1)}% of ${p.totalBytes}`,
  );
  p.groups.forEach((g, i) => console.log(`    [${i}] ${g.join(', ')}`));
  if (asksSharding) for (const line of shardingLines(sharding, o.workers)) console.log(line);
  for (const w of r.warnings) console.log(`  warning: ${w}`);
  return 0;
}

/** The shardability estimate, one line per sharded foreach and keyed function. */
export function shardingLines(s: WorkflowShardEstimate, workers: number): string[] {
  const lines = [
    `  sharding (on ${workers} worker${workers === 1 ? '' : 's'} × ${SLOTS_PER_WORKER} free slots):`,
  ];
  for (const f of s.foreach) {
    const d = f.demand;
    const from =
      d.source === 'declared'
        ? 'declared runtime'
        : `${d.samples} measured run${d.samples === 1 ? '' : 's'}`;
    lines.push(
      `    foreach ${f.node} (width ${f.width}, size ${f.size}): ${f.estimate.shards} shard${f.estimate.shards === 1 ? '' : 's'}, ` +
        `predicted ${f.estimate.speedup.toFixed(2)}× — ${f.estimate.reason}; ` +
        `${d.durationPerItemMs.toFixed(0)} ms and ${d.inputBytesPerItem + d.outputBytesPerItem} B an item (${from})`,
    );
  }
  for (const k of s.keyed)
    lines.push(
      `    function ${k.fn}: keyed by ${k.key}, replicas ${k.replicas}${k.replicas === 'auto' ? ` (starts with ${k.startReplicas}, re-sharded under load)` : ''}; ` +
        `${k.demand.durationPerItemMs.toFixed(0)} ms a call (declared runtime)`,
    );
  return lines;
}
