/** `faasflow validate FILE [--workers N] [--json]`: parse, check, compile and partition. */
import { partition } from '../../master/partition/index.js';
import { formatIssue, loadWorkflowFile } from '../../master/workflow/index.js';

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
  for (const w of r.warnings) console.log(`  warning: ${w}`);
  return 0;
}
