/**
 * Workflow documents → compiled DAGs. The one entry point for the master, the CLI and the tests:
 * YAML text → parse (limits, syntax errors with line and column) → structural and semantic
 * checks (every problem at once, each with its path) → `WorkflowDag`.
 * Native documents have `flow:` or `dag:`; FaaSFlow's flat format (a `functions:` list) is
 * imported by `flat.ts`.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { WorkflowDag } from '../../shared/dag/types.js';
import { normalize } from '../../shared/dag/graph.js';
import { DagBuilder, WORKFLOW_INPUT } from './builder.js';
import { compileDagForm } from './dag-form.js';
import { Issues, type Issue } from './diagnostics.js';
import { checkExpression } from '../../shared/expressions.js';
import { importFlat, isFlatWorkflow } from './flat.js';
import { compileStep, finishDag } from './flow.js';
import {
  compositionSpec,
  enumerateCombinations,
  MAX_VARIANTS,
  readLearn,
  readPolicies,
  selection,
} from './choose.js';
import type { CompositionSpec } from '../../shared/compose/types.js';
import { readDefaults, readFunctions } from './functions.js';
import { readPrewarm } from './prewarm.js';
import { checkInputSchema } from '../../shared/input-schema.js';
import { WORKFLOW_NAME_RE } from './limits.js';
import { describe, isObj, onlyKeys, readString, type Obj } from './read.js';
import { locateIssues, parseYaml } from './yaml.js';

export { formatIssue, invalidWorkflow, type Issue } from './diagnostics.js';
export { LIMITS } from './limits.js';

export interface LoadOptions {
  /** Name used when the document has none (FaaSFlow flat files): e.g. the folder name. */
  name?: string;
  /** FaaSFlow flat format: multiplies every function's runtime (default 1). */
  runtimeScale?: number;
  /** FaaSFlow flat format: multiplies the bytes synthetic functions emit, 0..1 (default 1). */
  sizeScale?: number;
}

export interface LoadResult {
  dag: WorkflowDag | null;
  /** With `choose:` steps: the spec and every variant's DAG (`dags[0]` is `dag`). */
  composition?: { spec: CompositionSpec; dags: WorkflowDag[] };
  issues: Issue[];
  warnings: string[];
}

const TOP_KEYS = [
  'name',
  'description',
  'functions',
  'defaults',
  'inputSchema',
  'inputSize',
  'durability',
  'prewarm',
  'flow',
  'dag',
  'output',
  'learn',
  'policies',
];

export function loadWorkflow(text: string, options: LoadOptions = {}): LoadResult {
  const issues = new Issues();
  const parsed = parseYaml(text, issues);
  if (!parsed) return { dag: null, issues: issues.list, warnings: [] };
  const result = compileDocument(parsed.value, options, issues);
  locateIssues(issues, parsed);
  return { ...result, issues: issues.list, dag: issues.ok ? result.dag : null };
}

/** Compiles an already parsed document (no YAML positions in issues). */
export function compileWorkflow(doc: unknown, options: LoadOptions = {}): LoadResult {
  const issues = new Issues();
  const result = compileDocument(doc, options, issues);
  return { ...result, issues: issues.list, dag: issues.ok ? result.dag : null };
}

export async function loadWorkflowFile(
  path: string,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const text = await readFile(path, 'utf8');
  return loadWorkflow(text, { name: options.name ?? defaultName(path), ...options });
}

/** A workflow name from a file path: the file name, or the folder for `flat_workflow.yaml`. */
export function defaultName(path: string): string {
  const file = basename(path).replace(/\.(ya?ml|json)$/i, '');
  const raw = /^(flat_)?workflow\d*$/.test(file) ? basename(dirname(path)) : file;
  const name = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  return WORKFLOW_NAME_RE.test(name) ? name : 'workflow';
}

function compileDocument(
  doc: unknown,
  options: LoadOptions,
  issues: Issues,
): Omit<LoadResult, 'issues'> {
  if (!isObj(doc)) {
    issues.add(
      '',
      `the document must be a mapping with name, functions and flow (or dag), got ${describe(doc)}`,
    );
    return { dag: null, warnings: [] };
  }
  // A `functions:` list means FaaSFlow's flat format, unless the document has a native flow.
  if (isFlatWorkflow(doc) && doc['flow'] === undefined && doc['dag'] === undefined) {
    const flatOptions = {
      ...(options.runtimeScale === undefined ? {} : { runtimeScale: options.runtimeScale }),
      ...(options.sizeScale === undefined ? {} : { sizeScale: options.sizeScale }),
    };
    const flat = importFlat(doc, options.name ?? 'workflow', flatOptions);
    for (const i of flat.issues) issues.list.push(i);
    // Our `prewarm:` is read beside FaaSFlow's keys (docs/guides/chains.md#settings).
    const prewarm = readPrewarm(doc['prewarm'], 'prewarm', issues);
    const dag = flat.dag && prewarm !== undefined ? { ...flat.dag, prewarm } : flat.dag;
    return { dag, warnings: flat.warnings };
  }
  return compileNative(doc, issues);
}

function compileNative(doc: Obj, issues: Issues): Omit<LoadResult, 'issues'> {
  onlyKeys(doc, TOP_KEYS, '', issues);
  const name = readString(doc, 'name', '', issues, {
    required: true,
    pattern: WORKFLOW_NAME_RE,
    hint: 'lower-case letters, digits and -, starting with a letter or digit, at most 63 characters',
  });
  const defaults = readDefaults(doc['defaults'], 'defaults', issues);
  const functions = readFunctions(doc['functions'], 'functions', issues, defaults);
  const hasFlow = doc['flow'] !== undefined && doc['flow'] !== null;
  const hasDag = doc['dag'] !== undefined && doc['dag'] !== null;
  if (hasFlow === hasDag) {
    issues.add(
      '',
      hasFlow
        ? 'has both flow and dag; use one of them'
        : 'has no flow: add `flow:` (structured steps) or `dag:` (nodes with after:)',
    );
    return { dag: null, warnings: [] };
  }
  let b = new DagBuilder(functions);
  let output: WorkflowDag['output'];
  let nodes = b.nodes;
  let edges = b.edges;
  let variantParts: {
    nodes: WorkflowDag['nodes'];
    edges: WorkflowDag['edges'];
    output: WorkflowDag['output'];
  }[] = [];
  let combos: ReturnType<typeof enumerateCombinations> = null;
  let variantsOverLimit = false;
  if (hasFlow) {
    const compileOnce = (picks: Record<string, string>, into: Issues) => {
      const builder = new DagBuilder(functions);
      const sel = selection(picks);
      const last = compileStep(doc['flow'], 'flow', builder, WORKFLOW_INPUT, {
        issues: into,
        depth: 0,
        choices: sel,
      });
      return {
        builder,
        sel,
        closed: finishDag(builder, last, name ?? 'workflow', 'flow', functions),
      };
    };
    const first = compileOnce({}, issues);
    b = first.builder;
    ({ output, nodes, edges } = first.closed);
    const composes = doc['learn'] !== undefined || doc['policies'] !== undefined;
    if (first.sel.reached.length === 0 && composes)
      issues.add(
        doc['learn'] !== undefined ? 'learn' : 'policies',
        'needs at least one choose: step in the flow (the choices it learns or constrains)',
      );
    if (first.sel.reached.length > 0 && issues.ok) {
      const seenIssue = new Set(issues.list.map((i) => `${i.path}\n${i.message}`));
      const pass = (picks: Record<string, string>) => {
        const local = new Issues();
        const r = compileOnce(picks, local);
        for (const i of local.list) {
          const k = `${i.path}\n${i.message}`;
          if (!seenIssue.has(k)) {
            seenIssue.add(k);
            issues.list.push(i);
          }
        }
        return r;
      };
      combos = enumerateCombinations((picks) => pass(picks).sel.reached);
      if (!combos) issues.add('flow', `its choices combine to more than ${MAX_VARIANTS} variants`);
      else
        variantParts = combos.map((c, i) => {
          if (i === 0) return { nodes, edges, output };
          const r = pass(c.picks);
          b.functionRefs.push(...r.builder.functionRefs);
          if (r.builder.overLimit) variantsOverLimit = true;
          return r.closed;
        });
    }
  } else {
    const compiled = compileDagForm(doc['dag'], 'dag', b, issues);
    if (!compiled) return { dag: null, warnings: [] };
    output = compiled.output;
  }
  if (b.overLimit || variantsOverLimit)
    issues.add(
      hasFlow ? 'flow' : 'dag',
      `compiles to more than the limit of nodes or edges (see LIMITS)`,
    );
  const warnings = checkFunctionRefs(b, functions, issues);
  const outputExpr = readString(doc, 'output', '', issues, {
    hint: 'a JSONata expression over the workflow result',
  });
  if (outputExpr !== undefined) checkExpression(outputExpr, 'output', issues);
  const inputSchema = doc['inputSchema'];
  if (inputSchema !== undefined) checkInputSchema(inputSchema, 'inputSchema', issues);
  const inputSize = readString(doc, 'inputSize', '', issues, {
    hint: 'a JSONata expression over the invocation input giving its size in bytes',
  });
  if (inputSize !== undefined) checkExpression(inputSize, 'inputSize', issues);
  const durability = doc['durability'];
  if (
    durability !== undefined &&
    durability !== 'none' &&
    durability !== 'checkpoint' &&
    durability !== 'strict'
  )
    issues.add(
      'durability',
      `is ${JSON.stringify(durability)}; it must be one of none, checkpoint, strict (docs/durability.md)`,
    );
  const prewarm = readPrewarm(doc['prewarm'], 'prewarm', issues);
  if (!issues.ok || name === undefined) return { dag: null, warnings };
  const format = hasFlow ? 'flow' : 'dag';
  const close = (part: {
    nodes: WorkflowDag['nodes'];
    edges: WorkflowDag['edges'];
    output: WorkflowDag['output'];
  }): WorkflowDag =>
    normalize({
      name,
      format,
      functions,
      nodes: part.nodes,
      edges: part.edges,
      output: part.output,
      ...(outputExpr ? { outputExpr } : {}),
      ...(inputSchema !== undefined ? { inputSchema: inputSchema as Record<string, unknown> } : {}),
      ...(inputSize !== undefined ? { inputSize } : {}),
      ...(durability === 'none' || durability === 'checkpoint' || durability === 'strict'
        ? { durability }
        : {}),
      ...(prewarm !== undefined ? { prewarm } : {}),
    });
  const dag = close({ nodes, edges, output });
  if (combos && variantParts.length > 0) {
    const dags = variantParts.map((p, i) => (i === 0 ? dag : close(p)));
    const learn = readLearn(doc['learn'], issues);
    const policies = readPolicies(doc['policies'], issues);
    const spec = compositionSpec(combos, dags, learn, policies, issues);
    if (!issues.ok) return { dag: null, warnings };
    return { dag, warnings, composition: { spec, dags } };
  }
  return { dag, warnings };
}

function checkFunctionRefs(
  b: DagBuilder,
  functions: WorkflowDag['functions'],
  issues: Issues,
): string[] {
  const defined = Object.keys(functions);
  const used = new Set<string>();
  for (const ref of b.functionRefs) {
    used.add(ref.fn);
    if (ref.fn !== '' && functions[ref.fn] === undefined) {
      const list =
        defined.length === 0
          ? 'the catalogue is empty'
          : `defined: ${defined.slice(0, 20).join(', ')}`;
      issues.add(
        ref.path,
        `function ${JSON.stringify(ref.fn)} is not defined under functions (${list})`,
      );
    }
  }
  return defined
    .filter((f) => !used.has(f))
    .map((f) => `function ${JSON.stringify(f)} is defined but never used`);
}
