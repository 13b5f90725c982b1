/**
 * The structured form (`flow:`) → DAG. Each step compiles against the `Feed` of the step before it
 * and returns the `Feed` for the step after it, so data semantics live in input templates:
 * - task: one node; its output feeds the next step.
 * - sequence: steps chained in order.
 * - parallel: every branch gets the same feed; the next step gets the array of branch outputs.
 *   No join node is needed: the consumer waits for every branch's edges.
 * - switch: a switch node; case i's first steps hang off it with `branch: i`; the next step gets
 *   the output of whichever case ran (`first`), or, with no default case, the switch's input when
 *   nothing matched (implicit default edges, `branch: -1`). Untaken cases are skipped at run time.
 * - foreach: one node whose `do` is compiled into its own body DAG, run per item.
 * `input:`/`output:` JSONata on a task, switch (input only) or foreach attach to its node; on other
 * steps they add a pass node that runs in the engine.
 */
import type { InputTemplate, PassNode, WorkflowDag } from '../../shared/dag/types.js';
import type { NodeId } from '../../shared/ids.js';
import { normalize } from '../../shared/dag/graph.js';
import type { DagBuilder } from './builder.js';
import { WORKFLOW_INPUT, type Feed, type FeedEdge } from './builder.js';
import { at, type Issues } from './diagnostics.js';
import { checkExpression } from '../../shared/expressions.js';
import { LIMITS, STEP_NAME_RE } from './limits.js';
import { readForeachShard } from './shard-spec.js';
import { readChoice, type ChoiceSelection } from './choose.js';
import { describe, isObj, onlyKeys, readInt, readString, type Obj } from './read.js';

const STEP_KINDS = ['task', 'sequence', 'parallel', 'switch', 'foreach', 'choose'] as const;
type StepKind = (typeof STEP_KINDS)[number];
const COMMON = ['name', 'input', 'output'];
const DEFAULT_FOREACH_CONCURRENCY = 8;
const DEFAULT_FOREACH_WIDTH = 8;

interface Ctx {
  issues: Issues;
  depth: number;
  /** Which option each `choose:` takes in this compilation (absent: every choose is an error). */
  choices?: ChoiceSelection;
}

export function compileStep(
  value: unknown,
  path: string,
  b: DagBuilder,
  feed: Feed,
  ctx: Ctx,
): Feed {
  if (ctx.depth > LIMITS.stepDepth) {
    ctx.issues.add(path, `steps are nested more than ${LIMITS.stepDepth} levels deep`);
    return feed;
  }
  if (b.overLimit) return feed;
  if (typeof value === 'string') return compileTask({}, value, path, path, b, feed, ctx);
  if (!isObj(value)) {
    ctx.issues.add(
      path,
      `must be a step: a mapping with one of ${STEP_KINDS.join(', ')} (or a function name), got ${describe(value)}`,
    );
    return feed;
  }
  const kinds = STEP_KINDS.filter((k) => value[k] !== undefined);
  if (kinds.length !== 1) {
    ctx.issues.add(
      path,
      kinds.length === 0
        ? `is not a step: expected one of ${STEP_KINDS.join(', ')}`
        : `has ${kinds.join(' and ')}; a step is exactly one of ${STEP_KINDS.join(', ')}`,
    );
    return feed;
  }
  const kind: StepKind = kinds[0]!;
  onlyKeys(value, [kind, ...COMMON], path, ctx.issues);
  const inner: Ctx = { ...ctx, depth: ctx.depth + 1 };
  switch (kind) {
    case 'task':
      return compileTask(value, value['task'], at(path, 'task'), path, b, feed, ctx);
    case 'sequence':
      return reshape(value, path, b, feed, ctx, (f) =>
        compileSequence(value['sequence'], at(path, 'sequence'), b, f, inner),
      );
    case 'parallel':
      return reshape(value, path, b, feed, ctx, (f) =>
        compileParallel(value['parallel'], at(path, 'parallel'), b, f, inner),
      );
    case 'switch':
      return compileSwitch(value, path, b, feed, inner);
    case 'foreach':
      return compileForeach(value, path, b, feed, inner);
    case 'choose':
      return reshape(value, path, b, feed, ctx, (f) =>
        compileChoose(value['choose'], at(path, 'choose'), b, f, inner),
      );
  }
}

/**
 * A `choose:` step compiles to the option the current selection names (its default when the
 * selection has not reached it yet); index.ts compiles the flow once per combination.
 */
function compileChoose(value: unknown, path: string, b: DagBuilder, feed: Feed, ctx: Ctx): Feed {
  const point = readChoice(value, path, ctx.issues);
  if (!point) return feed;
  const sel = ctx.choices;
  if (!sel) {
    ctx.issues.add(path, 'choose is not allowed here');
    return feed;
  }
  if (sel.seen.has(point.name)) {
    ctx.issues.add(
      at(path, 'name'),
      `duplicate choice name ${JSON.stringify(point.name)} (also at ${sel.seen.get(point.name)}); choice names must be unique in the workflow`,
    );
    return feed;
  }
  sel.seen.set(point.name, path);
  sel.reached.push(point.point);
  const key = sel.picks[point.name] ?? point.point.default;
  return compileStep(point.options[key], at(at(path, 'options'), key), b, feed, ctx);
}

function compileSequence(value: unknown, path: string, b: DagBuilder, feed: Feed, ctx: Ctx): Feed {
  if (!Array.isArray(value) || value.length === 0) {
    ctx.issues.add(
      path,
      Array.isArray(value)
        ? 'is empty; a sequence needs at least one step'
        : `must be a list of steps, got ${describe(value)}`,
    );
    return feed;
  }
  let current = feed;
  value.forEach((step, i) => {
    current = compileStep(step, at(path, i), b, current, ctx);
  });
  return current;
}

function compileParallel(value: unknown, path: string, b: DagBuilder, feed: Feed, ctx: Ctx): Feed {
  if (!Array.isArray(value) || value.length === 0) {
    ctx.issues.add(
      path,
      Array.isArray(value)
        ? 'is empty; parallel needs at least one branch'
        : `must be a list of branches, got ${describe(value)}`,
    );
    return feed;
  }
  const branches = value.map((step, i) => compileStep(step, at(path, i), b, feed, ctx));
  return {
    template: { kind: 'array', items: branches.map((f) => f.template) },
    edges: branches.flatMap((f) => f.edges),
  };
}

function compileTask(
  step: Obj,
  fn: unknown,
  fnPath: string,
  path: string,
  b: DagBuilder,
  feed: Feed,
  ctx: Ctx,
): Feed {
  if (typeof fn !== 'string' || fn === '') {
    ctx.issues.add(fnPath, `must name a function of the catalogue, got ${describe(fn)}`);
    return feed;
  }
  const id = nodeId(step, fn, path, b, ctx);
  b.addNode(
    { kind: 'task', id, path, fn, input: feed.template, ...exprs(step, path, ctx, true) },
    feed,
  );
  b.functionRefs.push({ fn, path: fnPath });
  return single(id);
}

function compileSwitch(step: Obj, path: string, b: DagBuilder, feed: Feed, ctx: Ctx): Feed {
  const casesPath = at(path, 'switch');
  const cases = step['switch'];
  if (!Array.isArray(cases) || cases.length === 0) {
    ctx.issues.add(
      casesPath,
      Array.isArray(cases)
        ? 'is empty; a switch needs at least one case'
        : `must be a list of cases ({ when, do } or { default }), got ${describe(cases)}`,
    );
    return feed;
  }
  const id = nodeId(step, 'switch', path, b, ctx);
  const { inputExpr } = exprs(step, path, ctx, false);
  const compiledCases: { when: string | null; path: string }[] = [];
  const outs: Feed[] = [];
  const switchFeed = (branch: number): Feed => ({
    template: { kind: 'node', node: id },
    edges: [{ node: id, branch }],
  });
  b.addNode(
    {
      kind: 'switch',
      id,
      path,
      input: feed.template,
      cases: compiledCases,
      ...(inputExpr ? { inputExpr } : {}),
    },
    feed,
  );
  let hasDefault = false;
  cases.forEach((c, i) => {
    const cp = at(casesPath, i);
    if (!isObj(c)) {
      ctx.issues.add(
        cp,
        `must be { when: <JSONata>, do: <step> } or { default: <step> }, got ${describe(c)}`,
      );
      return;
    }
    if (hasDefault)
      ctx.issues.add(cp, 'comes after the default case and can never run; default must be last');
    if (c['default'] !== undefined) {
      onlyKeys(c, ['default'], cp, ctx.issues);
      hasDefault = true;
      compiledCases.push({ when: null, path: cp });
      outs.push(compileStep(c['default'], at(cp, 'default'), b, switchFeed(i), ctx));
      return;
    }
    onlyKeys(c, ['when', 'do'], cp, ctx.issues);
    const when = readString(c, 'when', cp, ctx.issues, {
      required: true,
      hint: 'a JSONata condition such as "flagged = true"',
    });
    if (when !== undefined) checkExpression(when, at(cp, 'when'), ctx.issues);
    if (c['do'] === undefined)
      ctx.issues.add(at(cp, 'do'), 'is required: the step to run when the case matches');
    compiledCases.push({ when: when ?? 'false', path: cp });
    outs.push(compileStep(c['do'], at(cp, 'do'), b, switchFeed(i), ctx));
  });
  const options = outs.map((f) => f.template);
  const edges = outs.flatMap((f) => f.edges);
  if (!hasDefault) {
    options.push({ kind: 'node', node: id });
    edges.push({ node: id, branch: -1 });
  }
  const joined: Feed = { template: { kind: 'first', options }, edges };
  return outputPass(step, path, b, joined, ctx);
}

function compileForeach(step: Obj, path: string, b: DagBuilder, feed: Feed, ctx: Ctx): Feed {
  const fp = at(path, 'foreach');
  const spec = step['foreach'];
  if (!isObj(spec)) {
    ctx.issues.add(
      fp,
      `must be { items: <JSONata>, concurrency?: 1..1000, shard?: {…}, do: <step> }, got ${describe(spec)}`,
    );
    return feed;
  }
  onlyKeys(spec, ['items', 'concurrency', 'width', 'shard', 'do'], fp, ctx.issues);
  const shard = readForeachShard(spec['shard'], fp, ctx.issues);
  const items = readString(spec, 'items', fp, ctx.issues, {
    required: true,
    hint: 'a JSONata expression giving the array, such as "$.segments"',
  });
  if (items !== undefined) checkExpression(items, at(fp, 'items'), ctx.issues);
  const concurrency = readInt(spec, 'concurrency', fp, ctx.issues, {
    min: 1,
    max: 1000,
    fallback: DEFAULT_FOREACH_CONCURRENCY,
  });
  const width = readInt(spec, 'width', fp, ctx.issues, {
    min: 1,
    max: 100_000,
    fallback: DEFAULT_FOREACH_WIDTH,
  });
  if (spec['do'] === undefined)
    ctx.issues.add(at(fp, 'do'), 'is required: the step to run for each item');
  const bodyBuilder = b.child();
  const bodyOut = compileStep(spec['do'], at(fp, 'do'), bodyBuilder, WORKFLOW_INPUT, ctx);
  const body = finishDag(bodyBuilder, bodyOut, 'body', 'flow', {});
  b.functionRefs.push(...bodyBuilder.functionRefs);
  const id = nodeId(step, 'foreach', path, b, ctx);
  const out = body.sinks.reduce((s, n) => s + bodyBuilder.estimatedOutputBytes(n), 0) * width;
  b.addNode(
    {
      kind: 'foreach',
      id,
      path,
      input: feed.template,
      items: items ?? '$',
      concurrency,
      body,
      estimatedWidth: width,
      ...(shard ? { shard } : {}),
      ...exprs(step, path, ctx, true),
    },
    feed,
    out,
  );
  return single(id);
}

/** Adds a pass node before (input:) and after (output:) a step that has no node of its own. */
function reshape(
  step: Obj,
  path: string,
  b: DagBuilder,
  feed: Feed,
  ctx: Ctx,
  inner: (f: Feed) => Feed,
): Feed {
  let f = feed;
  const inputExpr = readExpr(step, 'input', path, ctx);
  if (inputExpr !== undefined) {
    const id = b.uniqueId(`${stepName(step) ?? 'reshape'}-input`);
    b.addNode(passNode(id, at(path, 'input'), f.template, { inputExpr }), f);
    f = single(id);
  }
  return outputPass(step, path, b, inner(f), ctx);
}

function outputPass(step: Obj, path: string, b: DagBuilder, feed: Feed, ctx: Ctx): Feed {
  const outputExpr = readExpr(step, 'output', path, ctx);
  if (outputExpr === undefined) return feed;
  const id = b.uniqueId(`${stepName(step) ?? 'reshape'}-output`);
  b.addNode(passNode(id, at(path, 'output'), feed.template, { outputExpr }), feed);
  return single(id);
}

function passNode(
  id: NodeId,
  path: string,
  input: InputTemplate,
  e: { inputExpr?: string; outputExpr?: string },
): PassNode {
  return { kind: 'pass', id, path, input, ...e };
}

function exprs(
  step: Obj,
  path: string,
  ctx: Ctx,
  withOutput: boolean,
): { inputExpr?: string; outputExpr?: string } {
  const out: { inputExpr?: string; outputExpr?: string } = {};
  const inputExpr = readExpr(step, 'input', path, ctx);
  if (inputExpr !== undefined) out.inputExpr = inputExpr;
  if (withOutput) {
    const outputExpr = readExpr(step, 'output', path, ctx);
    if (outputExpr !== undefined) out.outputExpr = outputExpr;
  }
  return out;
}

function readExpr(step: Obj, key: 'input' | 'output', path: string, ctx: Ctx): string | undefined {
  const src = readString(step, key, path, ctx.issues, { hint: 'a JSONata expression' });
  return src !== undefined && checkExpression(src, at(path, key), ctx.issues) ? src : undefined;
}

function stepName(step: Obj): string | undefined {
  return typeof step['name'] === 'string' ? step['name'] : undefined;
}

function nodeId(step: Obj, base: string, path: string, b: DagBuilder, ctx: Ctx): NodeId {
  const name = readString(step, 'name', path, ctx.issues, {
    pattern: STEP_NAME_RE,
    hint: 'letters, digits, _ and -, at most 63 characters',
  });
  if (name === undefined) return b.uniqueId(base);
  if (!b.reserve(name)) {
    ctx.issues.add(
      at(path, 'name'),
      `duplicate step name ${JSON.stringify(name)}; names must be unique in the workflow`,
    );
    return b.uniqueId(name);
  }
  return name as NodeId;
}

function single(id: NodeId): Feed {
  return { template: { kind: 'node', node: id }, edges: [{ node: id }] };
}

/**
 * Closes a DAG: when the last feed is not a single plain node (a parallel, a switch), a pass
 * node `end` collects it, so the DAG has one output node whose completion is the result.
 */
export function finishDag(
  b: DagBuilder,
  last: Feed,
  name: string,
  format: WorkflowDag['format'],
  functions: WorkflowDag['functions'],
): WorkflowDag {
  let output: InputTemplate = last.template;
  const plain =
    last.edges.length === 1 && last.edges[0]!.branch === undefined && last.template.kind === 'node';
  if (!plain && last.edges.length > 0) {
    const id = b.uniqueId('end');
    b.addNode(passNode(id, '', last.template, {}), last);
    output = { kind: 'node', node: id };
  }
  return normalize({ name, format, functions, nodes: b.nodes, edges: b.edges, output });
}

export type { FeedEdge };
