/**
 * Imports FaaSFlow's flat workflow format (`functions:` list with `next`, `runtime`, sizes,
 * `VIRTUAL` switches, `foreach` over `keys`) into a `WorkflowDag` of synthetic functions, so the
 * FaaSFlow paper benchmarks run unchanged. Takes the already-parsed YAML; returns every problem
 * at once as issues with paths such as `functions[3].next.nodes[1]`, and never throws.
 *
 * Mapping rules:
 * - Top level: `functions` is the list of entries. `fuctions` (a typo in two upstream examples)
 *   is accepted as `functions` with a warning, because the files are FaaSFlow's own and "import
 *   unchanged" is the contract; both keys at once is an issue. `global_input` is not needed
 *   (parameters arrive with the invocation input) and is ignored.
 * - Nodes: each entry is a node whose id is its `name`. `source: VIRTUAL` whose `next.type` is
 *   `switch` becomes a `switch` node; any other VIRTUAL (a join or fan-out point, as in
 *   examples-parallel2) and `source: END` become `pass` nodes. Every other entry is a `task` node
 *   running `dag.functions[name]`, or a `foreach` node when it is named in a `next.type: foreach`.
 *   A function entry cannot switch (FaaSFlow only routes at VIRTUAL entries).
 * - Functions are synthetic builtins: `sleepMs` = `runtime` (seconds; 0 when absent) × 1000 ×
 *   `runtimeScale`, `fields` = every output parameter with its `size` (0 when absent), `keys` = the
 *   `type: keys` outputs with their foreach width. cpu 1, memoryMb 256 (FaaSFlow's `mem_usage` is
 *   a fraction of an unspecified container size, so it is not converted), timeoutMs = max(60 s,
 *   10 × runtime), retries 0, network none, runtimeMs = the scaled runtime, outputBytes = the sum
 *   of the output sizes. `scale`, `mem_usage` and the runtime of VIRTUAL/END entries are ignored.
 * - Edges: every `next.nodes` entry is an edge. `pass` and `parallel` are plain edges. A switch's
 *   `conditions` and `nodes` are parallel lists; the edge to `nodes[j]` carries `branch: j`, and
 *   `default` (last) is the case with `when: null`. Conditions are Python over `INPUT.x`,
 *   translated to JSONata on the switch's input (see flat-condition.ts).
 * - Foreach: `next.type: foreach` from P to C makes C a foreach node that runs a one-node body
 *   (a task running C's function on `{kind: 'input'}`, output that node) once per element of P's
 *   `type: keys` output (the one C's `type: key` input names, else P's only keys output);
 *   `concurrency` and `estimatedWidth` = C's `split_ratio`, else `defaultForeachWidth`. P's keys
 *   output is as wide as the widest foreach it feeds.
 * - Edge bytes: what the consumer reads from the producer, see flat-bytes.ts. In short: the
 *   consumer's inputs naming the producer (or INPUT parameters the producer outputs); all the
 *   producer's outputs when it names none; switch and pass nodes are looked through.
 * - Inputs: a node without parents gets the invocation input; any other node the shallow merge
 *   of the invocation input and its parents' outputs, parents in declaration order (FaaSFlow
 *   looks parameters up by name). A switch's input is built the same way, so `INPUT.flag`
 *   finds a flag a parent produced.
 * - Output: from `global_output` when present and non-empty (see flat-output.ts); otherwise the
 *   constant `{sinks: [...]}`, so the master never pulls synthetic blobs back.
 */
import { LIMITS, WORKFLOW_NAME_RE } from './limits.js';
import { Issues, type Issue } from './diagnostics.js';
import type { WorkflowDag } from '../../shared/dag/types.js';
import { buildDag } from './flat-build.js';
import { resolveGraph } from './flat-graph.js';
import { parseGlobalOutput } from './flat-output.js';
import { describe, isRecord, parseEntry, MAX_FOREACH_WIDTH, type FlatEntry } from './flat-parse.js';

export interface FlatImportOptions {
  /** Multiplies every `runtime`; 0 makes functions return at once. Default 1. */
  runtimeScale?: number;
  /** Foreach width when the consumer gives no `split_ratio`. Default 8. */
  defaultForeachWidth?: number;
  /**
   * Multiplies the size of what synthetic functions emit (0..1); edge weights for partitioning
   * keep the declared sizes. Lets tests run Cycles' 1.2 GB shape with less data. Default 1.
   */
  sizeScale?: number;
}

export interface FlatImportResult {
  /** The compiled workflow; `null` exactly when `issues` is not empty. */
  dag: WorkflowDag | null;
  issues: Issue[];
  /** Accepted deviations from the format (e.g. the `fuctions` typo). */
  warnings: string[];
}

const TYPO_KEY = 'fuctions';

/** True when `doc` has a `functions` (or misspelt `fuctions`) list: FaaSFlow's flat format. */
export function isFlatWorkflow(doc: Record<string, unknown>): boolean {
  return isRecord(doc) && (Array.isArray(doc['functions']) || Array.isArray(doc[TYPO_KEY]));
}

export function importFlat(
  doc: Record<string, unknown>,
  name: string,
  options: FlatImportOptions = {},
): FlatImportResult {
  const issues = new Issues();
  const warnings: string[] = [];
  const runtimeScale = checkOption(
    options,
    'runtimeScale',
    1,
    (v) => v >= 0 && v <= 1000,
    'a number from 0 to 1000',
    issues,
  );
  const defaultForeachWidth = checkOption(
    options,
    'defaultForeachWidth',
    8,
    (v) => Number.isInteger(v) && v >= 1 && v <= MAX_FOREACH_WIDTH,
    `an integer from 1 to ${MAX_FOREACH_WIDTH}`,
    issues,
  );
  const sizeScale = checkOption(
    options,
    'sizeScale',
    1,
    (v) => v >= 0 && v <= 1,
    'a number from 0 to 1',
    issues,
  );
  if (typeof name !== 'string' || !WORKFLOW_NAME_RE.test(name)) {
    issues.add(
      '',
      `workflow name ${JSON.stringify(name)} is invalid: must match ${WORKFLOW_NAME_RE.source}`,
    );
  }
  const list = functionList(doc, issues, warnings);
  if (list === null) return { dag: null, issues: issues.list, warnings };

  const entries: FlatEntry[] = [];
  Array.from(list).forEach((raw, index) => {
    const entry = parseEntry(raw, index, issues);
    if (entry) entries.push(entry);
  });
  const graph = resolveGraph(entries, defaultForeachWidth, issues);
  if (graph.edges.length > LIMITS.edges) {
    issues.add('functions', `${graph.edges.length} edges; the limit is ${LIMITS.edges}`);
  }
  const output = parseGlobalOutput(
    isRecord(doc) ? doc['global_output'] : undefined,
    new Set(graph.byName.keys()),
    issues,
  );
  warnForeachWidths(graph.foreach, warnings);
  if (!issues.ok) return { dag: null, issues: issues.list, warnings };
  const dag = buildDag(graph, name, { runtimeScale, defaultForeachWidth, sizeScale }, output);
  return { dag, issues: [], warnings };
}

function functionList(doc: unknown, issues: Issues, warnings: string[]): readonly unknown[] | null {
  if (!isRecord(doc)) {
    issues.add('', `expected a mapping with a functions list, got ${describe(doc)}`);
    return null;
  }
  const proper = doc['functions'];
  const typo = doc[TYPO_KEY];
  if (proper !== undefined && typo !== undefined) {
    issues.add(TYPO_KEY, `both functions and ${TYPO_KEY} are present; keep only functions`);
    return null;
  }
  const key = proper === undefined && typo !== undefined ? TYPO_KEY : 'functions';
  const list: unknown = doc[key];
  if (key === TYPO_KEY)
    warnings.push(
      `top-level key "${TYPO_KEY}" read as "functions" (a typo in FaaSFlow's examples)`,
    );
  if (!Array.isArray(list)) {
    issues.add(
      key,
      `expected a list of function entries, got ${list === undefined ? 'nothing' : describe(list)}`,
    );
    return null;
  }
  const items: readonly unknown[] = list;
  if (items.length === 0) {
    issues.add(key, 'the list is empty; a workflow needs at least one function');
    return null;
  }
  if (items.length > LIMITS.functions) {
    issues.add(key, `${items.length} entries; the limit is ${LIMITS.functions}`);
    return null;
  }
  return items;
}

function checkOption(
  options: FlatImportOptions,
  key: keyof FlatImportOptions,
  fallback: number,
  valid: (v: number) => boolean,
  expected: string,
  issues: Issues,
): number {
  const v: unknown = isRecord(options) ? options[key] : undefined;
  if (v === undefined) return fallback;
  if (typeof v === 'number' && Number.isFinite(v) && valid(v)) return v;
  issues.add(`options.${key}`, `${key} must be ${expected}, got ${describe(v)}`);
  return fallback;
}

function warnForeachWidths(
  plans: ReturnType<typeof resolveGraph>['foreach'],
  warnings: string[],
): void {
  const widths = new Map<string, Set<number>>();
  for (const p of plans.values()) {
    const key = `${p.producer.name}.${p.keysParam}`;
    widths.set(key, (widths.get(key) ?? new Set()).add(p.width));
  }
  for (const [key, set] of widths) {
    if (set.size > 1) {
      warnings.push(
        `${key} feeds foreach nodes of widths ${[...set].join(', ')}; it emits ${Math.max(...set)} keys`,
      );
    }
  }
}
