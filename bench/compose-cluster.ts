/**
 * The cluster part of `faasflow bench compose --cluster` (docs/guides/composition.md#benchmark):
 * a local cluster (a master and two workers as processes, the embedded store) runs a composed
 * workflow whose two options are builtin functions whose speed depends on the input — `small`
 * is fast for inputs under 1,000 units and slow above, `large` the other way round — with
 * `mode: online`, against the same functions deployed as a static workflow that always runs the
 * default option. The objective is the mean end-to-end latency as the client sees it (the reward
 * is `-$latencyMs`); the figures are its improvement over the static default (over the last
 * `measure` invocations of the learner, after a warm-up both runs get) and the share of the
 * learner's invocations that explored.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../deploy/local-cluster.js';
import { HttpClient } from '../shared/http-client.js';
import { mulberry32 } from '../shared/random.js';

export interface ComposeClusterOptions {
  /** Invocations of the learned workflow. */
  invocations: number;
  /** The last this many of them, and as many of the static one, are compared. */
  measure: number;
  seed: number;
  workers: number;
  print: (line: string) => void;
}

export interface ComposeClusterFigures {
  invocations: number;
  measured: number;
  staticMeanMs: number;
  learnedMeanMs: number;
  /** 1 − learned / static (higher is better). */
  improvement: number;
  /** Share of the learner's invocations (all of them) with `composition.explored`. */
  explored: number;
  /** Share of the measured invocations that ran the option right for their input. */
  rightOption: number;
}

const SLOW_MS = 80;
const FAST_MS = 2;
const THRESHOLD = 1_000;
const CALL_TIMEOUT_MS = 30_000;

const fn = (fastBelow: boolean): string =>
  `export default async (x) => { const small = x.size < ${THRESHOLD}; await new Promise((r) => setTimeout(r, small === ${fastBelow} ? ${FAST_MS} : ${SLOW_MS})); return { size: x.size, by: '${fastBelow ? 'small' : 'large'}' } }`;

function functionsYaml(): string {
  return [
    'functions:',
    '  enc-small:',
    `    code: ${JSON.stringify(fn(true))}`,
    '  enc-large:',
    `    code: ${JSON.stringify(fn(false))}`,
    '  audit:',
    "    code: 'export default async (x) => ({ by: x.by, size: x.size })'",
  ].join('\n');
}

/** The composed workflow: learn which encoder to run from the input's size. */
export function learnedYaml(): string {
  return [
    'name: bench-compose-learned',
    functionsYaml(),
    'flow:',
    '  sequence:',
    '    - choose: { name: enc, options: { small: enc-small, large: enc-large }, default: small }',
    '    - task: audit',
    'learn:',
    "  context: { size: '$.size' }",
    "  reward: '-$latencyMs'",
    '  explore: { algorithm: thompson, rate: 0.05 }',
    '  mode: online',
  ].join('\n');
}

/** The static default: the same functions, always the default option. */
export function staticYaml(): string {
  return [
    'name: bench-compose-static',
    functionsYaml(),
    'flow:',
    '  sequence:',
    '    - task: enc-small',
    '    - task: audit',
  ].join('\n');
}

interface Answer {
  status: string;
  output?: { by?: string };
  composition?: { explored: boolean; variant: string };
}

export async function runComposeCluster(o: ComposeClusterOptions): Promise<ComposeClusterFigures> {
  const logDir = mkdtempSync(join(tmpdir(), 'faasflow-bench-compose-'));
  const cluster = new LocalCluster({ workers: o.workers, logDir });
  const http = new HttpClient({ connections: 4 });
  try {
    await cluster.start();
    const call = (path: string, body: unknown): Promise<unknown> =>
      http.json(`${cluster.masterUrl}${path}`, 'POST', body, CALL_TIMEOUT_MS);
    await call('/v1/workflows', { yaml: learnedYaml(), files: {} });
    await call('/v1/workflows', { yaml: staticYaml(), files: {} });
    // The same inputs for both: half small, half large, in a seeded order.
    const rng = mulberry32(o.seed);
    const inputs = Array.from({ length: o.invocations }, () =>
      rng() < 0.5 ? Math.floor(rng() * THRESHOLD) : THRESHOLD + Math.floor(rng() * 9 * THRESHOLD),
    );
    const invoke = async (name: string, size: number) => {
      const t0 = process.hrtime.bigint();
      const r = (await call(`/v1/workflows/${name}/invocations`, {
        input: { size },
        subTenant: 'bench',
      })) as Answer;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 'succeeded')
        throw new Error(`invocation of ${name} ended ${r.status}: ${JSON.stringify(r)}`);
      return { ms, r, size };
    };
    const from = o.invocations - o.measure;
    const staticMs: number[] = [];
    // Warm both workflows' sandboxes before anything is measured.
    for (let i = 0; i < 10; i++) await invoke('bench-compose-static', inputs[i]!);
    for (let i = from; i < o.invocations; i++)
      staticMs.push((await invoke('bench-compose-static', inputs[i]!)).ms);
    let explored = 0;
    let right = 0;
    const learnedMs: number[] = [];
    for (let i = 0; i < o.invocations; i++) {
      const { ms, r, size } = await invoke('bench-compose-learned', inputs[i]!);
      if (r.composition?.explored === true) explored++;
      if (i >= from) {
        learnedMs.push(ms);
        if (r.output?.by === (size < THRESHOLD ? 'small' : 'large')) right++;
      }
      if ((i + 1) % 100 === 0) o.print(`  ${i + 1}/${o.invocations} learned invocations`);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const staticMeanMs = mean(staticMs);
    const learnedMeanMs = mean(learnedMs);
    return {
      invocations: o.invocations,
      measured: o.measure,
      staticMeanMs,
      learnedMeanMs,
      improvement: 1 - learnedMeanMs / staticMeanMs,
      explored: explored / o.invocations,
      rightOption: right / o.measure,
    };
  } catch (err) {
    throw new Error(`${(err as Error).message} (logs in ${logDir})`);
  } finally {
    await http.close();
    await cluster.stop();
  }
}
