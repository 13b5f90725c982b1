/**
 * The client commands' actions: call the master, print text or `--json`, return the exit code.
 * Loaded only when such a command runs.
 */
import { pickIngress } from './ingress.js';
import { bytes } from './harvest-report.js';
import {
  chains,
  shards,
  composition,
  createKey,
  createTenant,
  deleteTenant,
  deploy,
  EXIT,
  feedback,
  invoke,
  listKeys,
  listTenants,
  readInput,
  revokeKey,
  status,
  workers,
} from './client.js';
import { chainsLines } from './chains-format.js';
import { shardsLines } from './shards-format.js';
import { compositionLines } from './compose-format.js';
import { deployLines, invokeLines, statusLines, workersLines } from './format.js';
import { exportProfiles, importProfiles, models, profile } from './harvest.js';
import { progress } from './progress.js';

export interface ClientOptions {
  master: string;
  json?: boolean;
}

const print = (o: ClientOptions, answer: unknown, lines: (a: unknown) => string[]): void =>
  console.log(o.json === true ? JSON.stringify(answer, null, 2) : lines(answer).join('\n'));

/** Handler files at least this big are named in the deploy's progress. */
const LARGE_FILE_BYTES = 256 * 1024;

export async function deployCommand(
  file: string,
  o: ClientOptions & { name?: string },
): Promise<number> {
  let bar: ReturnType<typeof progress> | undefined;
  let total = 0;
  let answer: unknown;
  try {
    answer = await deploy(o.master, file, o.name, (handler, size, i, n) => {
      bar ??= progress({ total: n, label: `reading ${file}`, enabled: o.json !== true });
      total += size;
      bar.tick(size >= LARGE_FILE_BYTES ? `${handler} (${bytes(size)})` : undefined);
      if (i === n - 1 && total >= LARGE_FILE_BYTES)
        bar.note(`uploading ${bytes(total)} of handler files`);
    });
  } finally {
    bar?.done();
  }
  print(o, answer, deployLines);
  return EXIT.ok;
}

export interface InvokeOptions extends ClientOptions {
  input?: string;
  wait: boolean;
  timeout?: number;
  profile?: boolean;
  dataBytes?: number;
  ingress?: string;
  via?: 'master' | 'worker';
  subTenant?: string;
  session?: string;
}

export async function invokeCommand(name: string, o: InvokeOptions): Promise<number> {
  const target = o.ingress ?? (o.via === 'worker' ? await pickIngress(o.master) : o.master);
  const r = (await invoke(target, name, await readInput(o.input), o.wait, o.timeout, {
    ...(o.profile === true ? { profile: true } : {}),
    ...(o.dataBytes !== undefined ? { dataBytes: o.dataBytes } : {}),
    ...(o.subTenant !== undefined ? { subTenant: o.subTenant } : {}),
    ...(o.session !== undefined ? { session: o.session } : {}),
  })) as { status?: string };
  print(o, r, invokeLines);
  return r.status === undefined || r.status === 'succeeded' ? EXIT.ok : EXIT.failure;
}

export async function statusCommand(id: string, o: ClientOptions): Promise<number> {
  print(o, await status(o.master, id), statusLines);
  return EXIT.ok;
}

export async function workersCommand(o: ClientOptions): Promise<number> {
  print(o, await workers(o.master), workersLines);
  return EXIT.ok;
}

export interface ProfileCommandOptions extends ClientOptions {
  inputs?: string;
  generate?: number;
  generator?: string;
  levels: [number, number];
  seed: number;
  concurrency: number;
  timeout?: number;
  train: boolean;
}

export function profileCommand(name: string, o: ProfileCommandOptions): Promise<number> {
  return profile(o.master, name, {
    ...(o.inputs !== undefined ? { inputs: o.inputs } : {}),
    ...(o.generate !== undefined ? { generate: o.generate } : {}),
    ...(o.generator !== undefined ? { generator: o.generator } : {}),
    levels: o.levels,
    seed: o.seed,
    concurrency: o.concurrency,
    ...(o.timeout !== undefined ? { timeoutMs: o.timeout } : {}),
    train: o.train,
    json: o.json === true,
  });
}

export function exportCommand(
  name: string,
  o: ClientOptions & { format: 'csv' | 'json'; out?: string },
): Promise<number> {
  return exportProfiles(o.master, name, {
    format: o.json === true ? 'json' : o.format,
    ...(o.out !== undefined ? { out: o.out } : {}),
  });
}

export function importCommand(
  name: string,
  file: string,
  o: ClientOptions & { format?: 'csv' | 'json' },
): Promise<number> {
  return importProfiles(o.master, name, file, o.format, o.json === true);
}

export function modelsCommand(
  name: string,
  o: ClientOptions & { train?: boolean },
): Promise<number> {
  return models(o.master, name, { train: o.train === true, json: o.json === true });
}

interface KeyAnswer {
  key: { id: string; tenant: string; role: string; createdAt: string };
  apiKey: string;
}

const keyLines = (a: unknown): string[] => {
  const k = a as KeyAnswer;
  return [
    `key ${k.key.id} (${k.key.role}) of tenant ${k.key.tenant}:`,
    `  ${k.apiKey}`,
    'It is shown only now; the master keeps its hash alone.',
  ];
};

export async function tenantsCreateCommand(
  name: string,
  o: ClientOptions & { role?: string },
): Promise<number> {
  print(o, await createTenant(o.master, name, o.role), (a) => [
    `tenant ${name} created`,
    ...keyLines(a),
  ]);
  return EXIT.ok;
}

export async function tenantsListCommand(o: ClientOptions): Promise<number> {
  print(o, await listTenants(o.master), (a) =>
    (a as { tenants: { name: string; createdAt: string }[] }).tenants.map(
      (t) => `${t.name.padEnd(24)} ${t.createdAt}`,
    ),
  );
  return EXIT.ok;
}

export async function tenantsDeleteCommand(name: string, o: ClientOptions): Promise<number> {
  await deleteTenant(o.master, name);
  print(o, { deleted: name }, () => [`tenant ${name} deleted, with its keys and workflows`]);
  return EXIT.ok;
}

export async function keysCreateCommand(
  tenant: string,
  o: ClientOptions & { role?: string },
): Promise<number> {
  print(o, await createKey(o.master, tenant, o.role), keyLines);
  return EXIT.ok;
}

export async function keysListCommand(tenant: string, o: ClientOptions): Promise<number> {
  print(o, await listKeys(o.master, tenant), (a) =>
    (a as { keys: { id: string; role: string; createdAt: string }[] }).keys.map(
      (k) => `${k.id}  ${k.role.padEnd(7)} ${k.createdAt}`,
    ),
  );
  return EXIT.ok;
}

export async function keysRevokeCommand(
  tenant: string,
  id: string,
  o: ClientOptions,
): Promise<number> {
  await revokeKey(o.master, tenant, id);
  print(o, { revoked: id, tenant }, () => [`key ${id} of tenant ${tenant} revoked`]);
  return EXIT.ok;
}

export interface ComposeOptions extends ClientOptions {
  subTenant?: string;
  top?: number;
  input?: string;
}

export async function composeCommand(name: string, o: ComposeOptions): Promise<number> {
  const answer = await composition(o.master, name, {
    ...(o.subTenant !== undefined ? { subTenant: o.subTenant } : {}),
    ...(o.top !== undefined ? { top: o.top } : {}),
    ...(o.input !== undefined ? { input: await readInput(o.input) } : {}),
  });
  print(o, answer, compositionLines);
  return EXIT.ok;
}

export async function chainsCommand(name: string, o: ClientOptions): Promise<number> {
  print(o, await chains(o.master, name), chainsLines);
  return EXIT.ok;
}

export interface ShardsOptions extends ClientOptions {
  limit: number;
}

export async function shardsCommand(name: string, o: ShardsOptions): Promise<number> {
  print(o, await shards(o.master, name, o.limit), shardsLines);
  return EXIT.ok;
}

export async function feedbackCommand(
  id: string,
  rating: number,
  o: ClientOptions,
): Promise<number> {
  print(o, await feedback(o.master, id, rating), (a) => {
    const r = a as { reward?: number | null };
    return [
      `feedback taken for ${id}` +
        (typeof r.reward === 'number'
          ? `; reward ${r.reward.toFixed(2)}`
          : '; reward when the invocation ends'),
    ];
  });
  return EXIT.ok;
}
