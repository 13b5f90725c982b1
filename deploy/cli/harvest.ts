/**
 * The harvesting commands: `faasflow profiles export|import`, `faasflow profile` (profiling
 * runs at the maximum allocation over inputs of varying size, then a training) and
 * `faasflow models` (the model set and its held-out accuracy; `--train` trains first).
 */
import { createWriteStream, existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ModelsView } from '../../master/harvest/harvester.js';
import { call, CliError, EXIT, invoke, request } from './client.js';
import { modelsReport, bytes, profileLine } from './harvest-report.js';
import { progress } from './progress.js';

const path = (name: string, rest: string): string =>
  `/v1/workflows/${encodeURIComponent(name)}/${rest}`;

export async function exportProfiles(
  master: string,
  name: string,
  o: { format: 'csv' | 'json'; out?: string },
): Promise<number> {
  const res = await request(master, 'GET', path(name, `profiles?format=${o.format}`));
  if (!res.body) throw new CliError('the master answered without a body');
  const body = Readable.fromWeb(res.body);
  if (o.out === undefined) await pipeline(body, process.stdout, { end: false });
  else {
    await pipeline(body, createWriteStream(o.out));
    console.error(
      `wrote ${res.headers.get('x-faasflow-records') ?? '?'} profile records of ${name} to ${o.out}`,
    );
  }
  return 0;
}

export async function importProfiles(
  master: string,
  name: string,
  file: string,
  format?: 'csv' | 'json',
  json = false,
): Promise<number> {
  const text = await readFile(file, 'utf8').catch((err: Error) => {
    throw new CliError(`cannot read ${file}: ${err.message}`, 2);
  });
  const csv = (format ?? (extname(file).toLowerCase() === '.csv' ? 'csv' : 'json')) === 'csv';
  const res = await request(
    master,
    'POST',
    path(name, 'profiles'),
    text,
    csv ? 'text/csv' : 'application/x-ndjson',
  );
  const r = (await res.json()) as { imported: number; profiles: ModelsView['profiles'] };
  if (json) console.log(JSON.stringify(r, null, 2));
  else
    console.log(`imported ${r.imported} profile records into ${name}; ${profileLine(r.profiles)}`);
  return 0;
}

export async function models(
  master: string,
  name: string,
  o: { train: boolean; json: boolean },
): Promise<number> {
  if (o.train) await call(master, 'POST', path(name, 'models/train'));
  const view = (await call(master, 'GET', path(name, 'models'))) as ModelsView;
  console.log(o.json ? JSON.stringify(view, null, 2) : modelsReport(view));
  return 0;
}

export interface ProfileOptions {
  inputs?: string;
  generate?: number;
  generator?: string;
  /** Size levels swept by the generator, inclusive. Default 1..7. */
  levels: [number, number];
  /** First seed; input i gets seed + i. */
  seed: number;
  concurrency: number;
  timeoutMs?: number;
  train: boolean;
  /** Print one JSON document (the runs and the model view) instead of text. */
  json?: boolean;
}

interface ProfileInput {
  label: string;
  input: unknown;
  dataBytes?: number;
}

export async function profile(master: string, name: string, o: ProfileOptions): Promise<number> {
  const inputs = await profileInputs(o);
  const json = o.json === true;
  const bar = progress({ total: inputs.length, label: `profiling ${name}`, enabled: !json });
  const say = (line: string): void => (json ? undefined : bar.print(line));
  say(
    `profiling ${name}: ${inputs.length} invocation${inputs.length === 1 ? '' : 's'} at the maximum allocation, concurrency ${o.concurrency}`,
  );
  const started = Date.now();
  const runs: { label: string; invocationId: string; status: string; durationMs: number }[] = [];
  let failed = 0;
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < inputs.length) {
      const i = next++;
      const p = inputs[i]!;
      const r = (await invoke(master, name, p.input, true, o.timeoutMs, {
        profile: true,
        ...(p.dataBytes !== undefined ? { dataBytes: p.dataBytes } : {}),
      })) as {
        invocationId: string;
        status: string;
        durationMs: number;
        error?: { message: string };
      };
      if (r.status !== 'succeeded') failed++;
      runs.push({
        label: p.label,
        invocationId: r.invocationId,
        status: r.status,
        durationMs: r.durationMs,
      });
      // The run's line is a result (its id leads to the timeline); the bar only counts.
      say(
        `  [${i + 1}/${inputs.length}] ${p.label}: ${r.status} in ${r.durationMs} ms  ${r.invocationId}${r.error ? `  ${r.error.message}` : ''}`,
      );
      bar.tick();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.concurrency, inputs.length) }, run));
  } finally {
    bar.done();
  }
  say(
    `${inputs.length - failed} succeeded, ${failed} failed in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const code = failed > 0 ? EXIT.failure : EXIT.ok;
  const finish = (view: ModelsView, report: string): number => {
    if (json)
      console.log(
        JSON.stringify(
          { workflow: name, succeeded: inputs.length - failed, failed, runs, models: view },
          null,
          2,
        ),
      );
    else console.log(report);
    return code;
  };
  if (!o.train) {
    const view = (await call(master, 'GET', path(name, 'models'))) as ModelsView;
    return finish(view, profileLine(view.profiles));
  }
  say('training…');
  try {
    await call(master, 'POST', path(name, 'models/train'));
  } catch (err) {
    const view = (await call(master, 'GET', path(name, 'models'))) as ModelsView;
    if (!json) console.log(profileLine(view.profiles));
    throw err;
  }
  const view = (await call(master, 'GET', path(name, 'models'))) as ModelsView;
  return finish(view, modelsReport(view));
}

async function profileInputs(o: ProfileOptions): Promise<ProfileInput[]> {
  if ((o.inputs === undefined) === (o.generate === undefined))
    throw new CliError('pass either --inputs DIR or --generate N --generator FILE.js', 2);
  if (o.inputs !== undefined) {
    const dir = o.inputs;
    const files = (
      await readdir(dir).catch((err: Error) => {
        throw new CliError(`cannot read --inputs ${dir}: ${err.message}`, 2);
      })
    )
      .filter((f) => f.endsWith('.json'))
      .sort();
    if (files.length === 0) throw new CliError(`--inputs ${dir} holds no .json files`, 2);
    return Promise.all(
      files.map(async (f) => {
        const text = await readFile(join(dir, f), 'utf8');
        try {
          return { label: f, input: JSON.parse(text) as unknown };
        } catch (err) {
          throw new CliError(`${join(dir, f)} is not valid JSON: ${(err as Error).message}`, 2);
        }
      }),
    );
  }
  const n = o.generate!;
  if (!Number.isInteger(n) || n < 1) throw new CliError('--generate must be an integer ≥ 1', 2);
  if (o.generator === undefined)
    throw new CliError(
      '--generate N needs --generator FILE.js (exporting generate(sizeLevel, seed))',
      2,
    );
  const mod = await loadGenerator(o.generator);
  const [lo, hi] = o.levels;
  const out: ProfileInput[] = [];
  for (let i = 0; i < n; i++) {
    const level = n === 1 ? lo : lo + ((hi - lo) * i) / (n - 1);
    const seed = o.seed + i;
    let input: unknown;
    try {
      input = mod.generate(level, seed);
    } catch (err) {
      throw new CliError(`generate(${level}, ${seed}) failed: ${(err as Error).message}`, 2);
    }
    const dataBytes = mod.dataBytes ? Math.round(mod.dataBytes(input)) : undefined;
    out.push({
      label: `level ${level.toFixed(2)} seed ${seed}${dataBytes !== undefined ? ` (${bytes(dataBytes)})` : ''}`,
      input,
      ...(dataBytes !== undefined ? { dataBytes } : {}),
    });
  }
  return out;
}

interface GeneratorModule {
  generate(sizeLevel: number, seed: number): unknown;
  /** Optional: the data size of an input, which the models see instead of its encoded size. */
  dataBytes?(input: unknown): number;
}

/**
 * Imports an input generator. A `.ts` file inside this repository is taken from its compiled
 * twin under dist/ (`npm run build` makes it).
 */
async function loadGenerator(file: string): Promise<GeneratorModule> {
  let abs = resolve(file);
  if (abs.endsWith('.ts')) {
    const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    const compiled = join(repo, 'dist', relative(repo, abs)).replace(/\.ts$/, '.js');
    if (!existsSync(compiled))
      throw new CliError(
        `--generator ${file} is TypeScript and ${compiled} does not exist; run npm run build, or pass a .js file`,
        2,
      );
    abs = compiled;
  }
  let mod: Partial<GeneratorModule>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Partial<GeneratorModule>;
  } catch (err) {
    throw new CliError(`cannot load --generator ${file}: ${(err as Error).message}`, 2);
  }
  if (typeof mod.generate !== 'function')
    throw new CliError(`--generator ${file} does not export generate(sizeLevel, seed)`, 2);
  if (mod.dataBytes !== undefined && typeof mod.dataBytes !== 'function')
    throw new CliError(`--generator ${file}: dataBytes must be a function (input) => bytes`, 2);
  return mod as GeneratorModule;
}
