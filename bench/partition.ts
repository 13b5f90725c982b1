/**
 * `faasflow bench partition`: how long partitioning takes, end to end and alone.
 *
 * Cases: FaaSFlow's Genome scalability files (10, 25, 50, 100 and 200 nodes, flat format) and
 * generated layered DAGs of 1,000 and 10,000 tasks (written out as native `dag:` YAML: the flat
 * format allows fewer functions than that). For each case, after a warm-up:
 * - end to end: YAML text → parse → import (`importFlat` or `loadWorkflow`) → `partition`;
 * - partition alone, and FaaSFlow's grouping (`partitionFaasflow`) on the same DAG for scale;
 * - heap: bytes allocated by one `partition` call (heapUsed after − before, after a GC when node
 *   runs with --expose-gc; otherwise a rough figure).
 * p50 and p99 are nearest-rank over the repetitions. Prints a table and returns the figures.
 *
 * Runs from source (vitest, tsx) and compiled (`node dist/bench/partition.js`): the benchmark
 * files are found by walking up from this file to the folder holding `package.json` and then
 * `bench/data/faasflow`, unless `benchmarksDir` or FAASFLOW_BENCHMARKS says otherwise.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import YAML from 'yaml';
import { partition, partitionFaasflow, type PartitionOptions } from '../master/partition/index.js';
import { compileWorkflow, LIMITS, loadWorkflow, type Issue } from '../master/workflow/index.js';
import type { WorkflowDag } from '../shared/dag/types.js';
import { publishReport } from './report.js';
import { generateDag } from './generate-dag.js';
import { faasflowBenchmarks } from './paths.js';

export interface PartitionBenchOptions {
  /** FaaSFlow's benchmark folder. Default: FAASFLOW_BENCHMARKS, else found from the repo root. */
  benchmarksDir?: string;
  /** Genome scalability sizes to run. Default [10, 25, 50, 100, 200]. */
  genomeSizes?: number[];
  /** Generated DAG sizes to run. Default [1000, 10000]. */
  generatedSizes?: number[];
  /** Repetitions per case up to 1,000 nodes (at least 20). Default 30. */
  repetitions?: number;
  /** Repetitions per case above 1,000 nodes. Default 5. */
  largeRepetitions?: number;
  /** Unmeasured runs before each case. Default 3 (1 above 1,000 nodes). */
  warmup?: number;
  /** Partition options. Default `{ workers: 3 }` with the partitioner's defaults. */
  partitionOptions?: PartitionOptions;
  /** Where the table goes. Default console.log. */
  print?: (line: string) => void;
  /** Where the JSON report goes (default `.bench`); null writes none. */
  reportDir?: string | null;
  /** Recorded in the report as the command that reproduces the run. Default: process.argv. */
  command?: string;
}

export interface Percentiles {
  p50Ms: number;
  p99Ms: number;
}

export interface PartitionBenchRow {
  name: string;
  nodes: number;
  edges: number;
  repetitions: number;
  /** YAML text → DAG (parse, validate, compile) + partition. */
  endToEnd: Percentiles;
  /** YAML text → plain document alone. */
  parse: Percentiles;
  /** Parsed document → validate + compile + partition (what FaaSFlow's ~1 core-second is about). */
  compileAndPartition: Percentiles;
  partition: Percentiles;
  faasflow: Percentiles;
  /** Heap allocated by one partition call, in MB. */
  heapDeltaMb: number;
  groups: number;
  localMb: number;
  totalMb: number;
}

export interface BenchReport {
  suite: 'partition';
  /** Whether heap figures were taken after a forced GC (node --expose-gc). */
  gcExposed: boolean;
  rows: PartitionBenchRow[];
}

const MB = 1024 * 1024;

export async function runPartitionBench(options: PartitionBenchOptions = {}): Promise<BenchReport> {
  const print = options.print ?? ((line: string) => console.log(line));
  const startedAt = new Date();
  const dir = options.benchmarksDir ?? faasflowBenchmarks();
  const partitionOptions = options.partitionOptions ?? { workers: 3 };
  const cases: { name: string; text: () => string; load: (text: string) => WorkflowDag }[] = [
    ...(options.genomeSizes ?? [10, 25, 50, 100, 200]).map((size) => ({
      name: `genome-${size}`,
      text: () => readFileSync(join(dir, 'genome-scalability', `${size}.yaml`), 'utf8'),
      load: (text: string) => loadNativeText(text, `genome-${size}`),
    })),
    ...(options.generatedSizes ?? [1000, 10_000]).map((size) => ({
      name: `generated-${size}`,
      text: () => toNativeYaml(generateDag({ nodes: size, seed: size, kinds: 'tasks' })),
      load: (text: string) => loadNativeText(text, `generated-${size}`),
    })),
  ];

  const rows: PartitionBenchRow[] = [];
  print(header());
  for (const c of cases) {
    const text = c.text();
    const load = (): WorkflowDag => c.load(text);
    const dag = load();
    const large = dag.nodes.length > 1000;
    const repetitions = large
      ? (options.largeRepetitions ?? 5)
      : Math.max(20, options.repetitions ?? 30);
    const warmup = options.warmup ?? (large ? 1 : 3);
    for (let i = 0; i < warmup; i++) partition(load(), partitionOptions);

    const endToEnd = sample(repetitions, () => partition(load(), partitionOptions));
    const doc = YAML.parse(text, { maxAliasCount: LIMITS.yamlAliases }) as unknown;
    const parse = sample(repetitions, () =>
      YAML.parse(text, { maxAliasCount: LIMITS.yamlAliases }),
    );
    const compiled = sample(repetitions, () =>
      partition(compileOrFail(doc, c.name), partitionOptions),
    );
    const alone = sample(repetitions, () => partition(dag, partitionOptions));
    const faasflow = sample(repetitions, () => partitionFaasflow(dag, partitionOptions));
    const result = partition(dag, partitionOptions);
    const row: PartitionBenchRow = {
      name: c.name,
      nodes: dag.nodes.length,
      edges: dag.edges.length,
      repetitions,
      endToEnd,
      parse,
      compileAndPartition: compiled,
      partition: alone,
      faasflow,
      heapDeltaMb: heapDeltaMb(() => partition(dag, partitionOptions)),
      groups: result.groups.length,
      localMb: result.localBytes / MB,
      totalMb: result.totalBytes / MB,
    };
    rows.push(row);
    print(formatRow(row));
    // Let other work (and a CLI's signal handlers) run between cases.
    await new Promise((done) => setImmediate(done));
  }
  const gcExposed = typeof globalThis.gc === 'function';
  if (!gcExposed) print('(heap figures without --expose-gc include garbage from earlier runs)');
  if (options.reportDir !== null) {
    publishReport(
      'partition',
      startedAt,
      { gcExposed, rows },
      {
        ...(options.command === undefined ? {} : { command: options.command }),
        ...(options.reportDir === undefined ? {} : { reportDir: options.reportDir }),
        print,
      },
    );
  }
  return { suite: 'partition', gcExposed, rows };
}

function compileOrFail(doc: unknown, name: string): WorkflowDag {
  const { dag, issues } = compileWorkflow(doc, { name });
  return dag ?? failed(name, issues);
}

function loadNativeText(text: string, name: string): WorkflowDag {
  const { dag, issues } = loadWorkflow(text, { name });
  return dag ?? failed(name, issues);
}

function failed(name: string, issues: Issue[]): never {
  const first = issues
    .slice(0, 3)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
  throw new Error(`benchmark ${name} does not import: ${first}`);
}

/**
 * A tasks-only DAG in the native explicit form (`dag:` with `after:`). FaaSFlow's flat format is
 * not used here: its function list is capped at LIMITS.functions entries, one per node.
 */
export function toNativeYaml(dag: WorkflowDag): string {
  const after = new Map<string, string[]>();
  for (const e of dag.edges) after.set(e.to, [...(after.get(e.to) ?? []), e.from]);
  const functions: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(dag.functions)) {
    functions[name] = {
      builtin: { sleepMs: spec.runtimeMs, outputBytes: spec.outputBytes },
      cpu: spec.cpu,
      memory: spec.memoryMb,
    };
  }
  const nodes: Record<string, unknown> = {};
  for (const node of dag.nodes) {
    if (node.kind !== 'task')
      throw new Error(`toNativeYaml takes tasks only; ${node.id} is a ${node.kind}`);
    const parents = after.get(node.id);
    nodes[node.id] = parents ? { task: node.fn, after: parents } : { task: node.fn };
  }
  return YAML.stringify({ name: dag.name, functions, dag: nodes });
}

function sample(repetitions: number, run: () => unknown): Percentiles {
  const times: number[] = [];
  for (let i = 0; i < repetitions; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const rank = (p: number): number =>
    times[Math.min(times.length - 1, Math.ceil(p * times.length) - 1)]!;
  return { p50Ms: rank(0.5), p99Ms: rank(0.99) };
}

function heapDeltaMb(run: () => unknown): number {
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  run();
  const after = process.memoryUsage().heapUsed;
  return Math.max(0, after - before) / MB;
}

const COLUMNS: [string, number][] = [
  ['case', 16],
  ['nodes', 7],
  ['edges', 7],
  ['reps', 6],
  ['parse p50', 11],
  ['compile+part p50', 18],
  ['part p50', 10],
  ['part p99', 10],
  ['FaaSFlow p50', 14],
  ['e2e p50', 10],
  ['heap MB', 9],
  ['groups', 8],
  ['local/total MB', 17],
];

function header(): string {
  return COLUMNS.map(([c, w], i) => (i === 0 ? c.padEnd(w) : c.padStart(w))).join('');
}

function formatRow(r: PartitionBenchRow): string {
  const ms = (x: number): string => x.toFixed(x < 10 ? 3 : 1);
  const cells = [
    r.name,
    String(r.nodes),
    String(r.edges),
    String(r.repetitions),
    ms(r.parse.p50Ms),
    ms(r.compileAndPartition.p50Ms),
    ms(r.partition.p50Ms),
    ms(r.partition.p99Ms),
    ms(r.faasflow.p50Ms),
    ms(r.endToEnd.p50Ms),
    r.heapDeltaMb.toFixed(2),
    String(r.groups),
    `${r.localMb.toFixed(1)}/${r.totalMb.toFixed(1)}`,
  ];
  return cells
    .map((c, i) => (i === 0 ? c.padEnd(COLUMNS[i]![1]) : c.padStart(COLUMNS[i]![1])))
    .join('');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runPartitionBench().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
