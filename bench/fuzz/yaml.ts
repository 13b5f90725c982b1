/**
 * Properties of the YAML front end (master/workflow), for the fuzzing of every door: whatever
 * text arrives, `loadWorkflow` answers — quickly, without throwing — either a DAG that passes the
 * workers' own `checkDag` and partitions, or issues that each name a path and say what is wrong,
 * which the route turns into one WORKFLOW_INVALID AppError. Inputs: random text, byte edits of
 * every example workflow, the examples' YAML trees with one subtree replaced, and JSON-like
 * documents built from the workflow keywords.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { partition } from '../../master/partition/index.js';
import { invalidWorkflow, loadWorkflow } from '../../master/workflow/index.js';
import { checkDag } from '../../shared/dag/check.js';
import { AppError } from '../../shared/errors.js';
import { repoRoot } from '../paths.js';

/** Longer than this for one document is a hang, for the fuzzer's purpose. */
export const YAML_CASE_BUDGET_MS = 2_000;

export interface YamlProperty {
  name: string;
  property: fc.IPropertyWithHooks<[string]>;
}

/** The example workflows (deploy/examples, harvest examples included), as text. */
export function exampleWorkflows(): string[] {
  const dir = join(repoRoot(), 'deploy/examples');
  const files = [
    ...readdirSync(dir).map((f) => join(dir, f)),
    ...readdirSync(join(dir, 'harvest')).map((f) => join(dir, 'harvest', f)),
  ].filter((f) => f.endsWith('.yaml'));
  return files.map((f) => readFileSync(f, 'utf8'));
}

/** Throws, saying what broke, unless `text` gets a clear answer. */
export function checkWorkflowText(text: string): void {
  const started = performance.now();
  const r = loadWorkflow(text);
  const ms = performance.now() - started;
  if (ms > YAML_CASE_BUDGET_MS) throw new Error(`loadWorkflow took ${Math.round(ms)} ms`);
  if (r.dag === null) {
    if (r.issues.length === 0) throw new Error('no DAG and no issue');
    for (const i of r.issues)
      if (typeof i.path !== 'string' || typeof i.message !== 'string' || i.message === '')
        throw new Error(`an issue without a path or message: ${JSON.stringify(i)}`);
    const err = invalidWorkflow(r.issues);
    if (!(err instanceof AppError) || err.code !== 'WORKFLOW_INVALID' || err.statusCode !== 400)
      throw new Error(`issues do not make a WORKFLOW_INVALID 400: ${err.code}`);
    return;
  }
  if (r.issues.length > 0)
    throw new Error(`a DAG with issues: ${JSON.stringify(r.issues.slice(0, 3))}`);
  const problems = checkDag(r.dag);
  if (problems.length > 0)
    throw new Error(`a DAG a worker would refuse: ${problems.slice(0, 3).join('; ')}`);
  partition(r.dag, { workers: 2 });
}

const KEYS = [
  'name',
  'functions',
  'flow',
  'dag',
  'task',
  'sequence',
  'parallel',
  'switch',
  'foreach',
  'when',
  'do',
  'default',
  'items',
  'after',
  'to',
  'code',
  'builtin',
  'handler',
  'cpu',
  'memory',
  'timeout',
  'retries',
  'input',
  'output',
  'durability',
  'inputSchema',
  'inputSize',
  'concurrency',
  'f',
  'a',
  'b',
];

function jsonLike(): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    fc.string({ maxLength: 10 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom('f', 'a', 'sequence', '$.x', '$', '{{', 'export default async (x) => x'),
  );
  return fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      leaf,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 5 }),
    ),
  })).value;
}

/** Replaces the subtree at a random path of `doc` (a parsed example) with `value`. */
function graft(doc: unknown, steps: readonly number[], value: unknown): unknown {
  if (steps.length === 0 || typeof doc !== 'object' || doc === null) return value;
  const [step, ...rest] = steps as [number, ...number[]];
  if (Array.isArray(doc)) {
    const list = doc as unknown[];
    if (list.length === 0) return value;
    const i = step % list.length;
    return list.map((d, j) => (j === i ? graft(d, rest, value) : d));
  }
  const keys = Object.keys(doc);
  if (keys.length === 0) return value;
  const k = keys[step % keys.length]!;
  return { ...doc, [k]: graft((doc as Record<string, unknown>)[k], rest, value) };
}

export function yamlProperties(): YamlProperty[] {
  const examples = exampleWorkflows();
  const trees = examples.map((t) => parse(t) as unknown);
  const check = (text: string): void => checkWorkflowText(text);
  return [
    {
      name: 'random text',
      property: fc.property(fc.string({ maxLength: 400, unit: 'binary' }), check),
    },
    {
      name: 'byte edits of the examples',
      property: fc.property(
        fc
          .tuple(
            fc.nat(examples.length - 1),
            fc.array(fc.tuple(fc.nat(), fc.nat(8), fc.string({ maxLength: 6 })), {
              minLength: 1,
              maxLength: 6,
            }),
          )
          .map(([which, edits]) => {
            let text = examples[which]!;
            for (const [pos, del, ins] of edits) {
              const at = pos % (text.length + 1);
              text = text.slice(0, at) + ins + text.slice(at + del);
            }
            return text;
          }),
        check,
      ),
    },
    {
      name: 'subtrees of the examples replaced',
      property: fc.property(
        fc
          .tuple(
            fc.nat(trees.length - 1),
            fc.array(fc.nat(), { maxLength: 5 }),
            fc.oneof(jsonLike(), fc.constant(undefined)),
          )
          .map(([which, steps, value]) => stringify(graft(trees[which], steps, value) ?? null)),
        check,
      ),
    },
    {
      name: 'JSON-like documents of workflow keywords',
      property: fc.property(
        jsonLike().map((v) => stringify(v)),
        check,
      ),
    },
  ];
}
