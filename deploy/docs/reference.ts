/**
 * The generated reference pages: configuration (from the master's and the worker's config
 * schemas) and error codes (from shared/errors.ts's table). Pure functions over the schemas —
 * no I/O — so a unit test can compare their text with the committed files and fail when the
 * code moved on without the docs (`npm run docs` rewrites them; deploy/docs/main.ts).
 *
 * Flag and environment names are derived here and checked against the parsers that read them
 * (shared/flags.ts, shared/config.ts), so the page cannot name a flag the process ignores.
 */
import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import { MasterConfigSchema } from '../../master/config.js';
import { envFor } from '../../shared/config.js';
import { AppError, ERROR_CODES, type ErrorCode } from '../../shared/errors.js';
import { parseFlags } from '../../shared/flags.js';
import { WorkerConfigSchema } from '../../worker/config.js';

/** Where each generated page lives, relative to the repository root. */
export const GENERATED_PAGES = {
  configuration: 'docs/reference/configuration.md',
  errors: 'docs/reference/errors.md',
} as const;

const HEADER = (source: string): string =>
  `<!-- Generated from ${source} by \`npm run docs\` (deploy/docs/reference.ts). Do not edit by hand: test/unit/docs-reference.test.ts fails when this file differs from the code. -->`;

/** The JSON Schema keywords this page reads; TypeBox schemas carry more, we need only these. */
interface SchemaFacts {
  type?: unknown;
  anyOf?: readonly SchemaFacts[];
  const?: unknown;
  default?: unknown;
  description?: unknown;
  'x-default'?: unknown;
  minimum?: unknown;
  maximum?: unknown;
  minLength?: unknown;
  pattern?: unknown;
}

const facts = (schema: TSchema): SchemaFacts => schema;

/** `--memory-quota-mb` for `memoryQuotaMb`, checked against the flag parser the processes use. */
export function flagFor(key: string): string {
  const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  if (!(key in parseFlags([`--${flag}=x`])))
    throw new AppError('INTERNAL', `flag --${flag} does not parse back to option ${key}`);
  return `--${flag}`;
}

/** `FAASFLOW_MEMORY_QUOTA_MB` for `memoryQuotaMb`, checked against shared/config.ts's envFor. */
export function envVarFor(key: string): string {
  const name = 'FAASFLOW_' + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
  const probe = Type.Object({ [key]: Type.String() });
  if (!(key in envFor(probe, { [name]: 'x' })))
    throw new AppError('INTERNAL', `environment variable ${name} is not read as option ${key}`);
  return name;
}

/** Backquotes a cell value; `|` would end a Markdown table cell. */
const code = (text: string): string => '`' + text.replace(/\|/g, '\\|') + '`';
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Type and allowed values, e.g. "integer 0–65535", "`worker` \| `master`". */
export function typeOf(schema: TSchema): string {
  const s = facts(schema);
  if (s.anyOf !== undefined) {
    if (s.anyOf.every((x) => x.const !== undefined))
      return s.anyOf.map((x) => code(String(x.const))).join(' \\| ');
    return s.anyOf.map((x) => typeOf(x as TSchema)).join(' or ');
  }
  const type = typeof s.type === 'string' ? s.type : 'value';
  const parts = [type];
  const min = typeof s.minimum === 'number' ? s.minimum : undefined;
  const max = typeof s.maximum === 'number' ? s.maximum : undefined;
  if (min !== undefined && max !== undefined) parts.push(`${number(min)}–${number(max)}`);
  else if (min !== undefined) parts.push(`≥ ${number(min)}`);
  else if (max !== undefined) parts.push(`≤ ${number(max)}`);
  if (typeof s.pattern === 'string') parts.push(`matching ${code(s.pattern)}`);
  if (typeof s.minLength === 'number' && s.minLength > 1)
    parts.push(`of at least ${s.minLength} characters`);
  return parts.join(' ');
}

const number = (n: number): string => String(n);

/** The default as a reader wants it: `33554432` (32 MiB), `600000` (10 min); empty when unset. */
export function defaultOf(key: string, schema: TSchema): string {
  const s = facts(schema);
  if (typeof s['x-default'] === 'string') return s['x-default'];
  if (s.default === undefined) return '';
  const value = s.default;
  if (typeof value !== 'number') return code(JSON.stringify(value).replace(/^"|"$/g, ''));
  const human = /Bytes$/.test(key) ? bytes(value) : /Ms$/.test(key) ? duration(value) : '';
  return human === '' ? code(String(value)) : `${code(String(value))} (${human})`;
}

function bytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return '';
}

function duration(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  }
  return '';
}

/** One table row per option, in the schema's order. */
export function optionsTable(schema: TObject): string {
  const rows = [
    '| option | flag | environment | type / allowed values | default | description |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const [key, prop] of Object.entries(schema.properties)) {
    const description = facts(prop).description;
    rows.push(
      `| ${code(key)} | ${code(flagFor(key))} | ${code(envVarFor(key))} | ${typeOf(prop)} | ${defaultOf(key, prop)} | ${typeof description === 'string' ? cell(description) : ''} |`,
    );
  }
  return rows.join('\n');
}

export function configurationMarkdown(): string {
  return [
    HEADER('master/config.ts (MasterConfigSchema) and worker/config.ts (WorkerConfigSchema)'),
    '',
    '# Configuration reference',
    '',
    'Each process has one configuration schema with its defaults inside. An option can be given as a',
    'flag (`--memory-quota-mb=256` or `--memory-quota-mb 256`) or as an environment variable',
    '(`FAASFLOW_MEMORY_QUOTA_MB=256`); a flag wins over the environment, the environment over the',
    'default. Every bad value and unknown option is reported at once, as `CONFIG_INVALID`, before the',
    'process starts. An empty default means the option is unset unless given; its description says',
    'what happens then. `faasflow master` and `faasflow worker` pass their flags through (see',
    '[the CLI reference](cli.md)).',
    '',
    "FaaStore's options are not a configuration schema of their own: a worker builds its store from",
    '`redisUrl`, `redisPrefix`, `memoryQuotaMb` and `inlineMaxBytes`, and the rest (safety-net TTL 1 h,',
    'peer fetch timeout 30 s, spill folder in the temp directory) keep the defaults of',
    '`faastore/options.ts` ([design §5](../design.md#5-faastore)).',
    '',
    '## Master',
    '',
    '`faasflow master` or `node dist/master/main.js`.',
    '',
    optionsTable(MasterConfigSchema),
    '',
    'Besides the schema, `harvest: on` requires `redisUrl`: the master refuses to start without it.',
    '',
    '## Worker',
    '',
    '`faasflow worker` or `node dist/worker/main.js`.',
    '',
    optionsTable(WorkerConfigSchema),
    '',
  ].join('\n');
}

/**
 * What each code means, for the errors page. Typed by the code table, so a new code does not
 * compile until it is explained here.
 */
const MEANINGS: { readonly [K in ErrorCode]: string } = {
  BAD_REQUEST:
    'The request is malformed: bad JSON, wrong types, unknown fields, a timeout over `maxTimeoutMs`, an invalid workflow name in a path.',
  CONFIG_INVALID:
    'A process (or a component inside it: partitioner, Docker sandbox, FaaStore) was given bad options; every problem is listed in `details.problems`.',
  WORKFLOW_INVALID:
    'An uploaded workflow failed validation (every issue, with its path, in `details.issues`), names handler files missing from the upload, or cannot be partitioned; on a worker, a deployed function it cannot run (a missing handler file, an `image:` function on the process sandbox).',
  INPUT_INVALID:
    "An invocation's input does not match the workflow's `inputSchema:`, or its `inputSize:` expression gives no byte count for it.",
  UNAUTHORIZED:
    'A request lacks its credential or carries a wrong one: between master and workers the cluster token, on the client API (with `auth` on) an API key (`authorization: Bearer <token or key>`); also a revoked key.',
  FORBIDDEN:
    "The API key is valid but its role may not do this (a `read` key deploying, an `invoke` key deleting, a tenant's key managing tenants); see docs/guides/tenants.md.",
  WORKFLOW_NOT_FOUND:
    'No workflow of that name is deployed (on the master, or on the worker a trigger names).',
  INVOCATION_NOT_FOUND:
    'No invocation with that id is known (never started, or no longer retained).',
  NOT_FOUND:
    'No such route, or the thing named is not there: an unregistered worker heartbeating, a sandbox or function that is not running on this worker.',
  OBJECT_NOT_FOUND:
    'A stored object (a function output or an invocation input) is no longer held where its reference points: released, expired or never stored.',
  CONFLICT:
    'The request conflicts with the current state: harvesting routes on a master with harvesting off, a profiling run without harvesting, training with too few records.',
  PAYLOAD_TOO_LARGE: 'The request body is over `bodyLimitBytes`.',
  LIMIT_EXCEEDED:
    "A tenant's limit was reached (concurrent invocations, invocations per second, workflow size, deployed versions); answered 429 with `Retry-After`, and nothing of the request was done.",
  UNSUPPORTED_MEDIA_TYPE:
    'The content type is not accepted by the route (JSON everywhere; YAML for workflow uploads; CSV or JSON lines for profile imports).',
  FUNCTION_FAILED:
    'A function threw or returned an error; the message carries the function, the node and its message.',
  FUNCTION_TIMEOUT: 'A function ran longer than its `timeout:`.',
  FUNCTION_OOM: "A function's sandbox went over its memory limit and was killed.",
  FUNCTION_CRASHED: "A function's sandbox exited or broke the runtime protocol while running it.",
  INVOCATION_TIMEOUT:
    'The invocation passed its deadline (`timeoutMs`, default `defaultTimeoutMs`); its remaining work is cancelled.',
  CANCELLED:
    'The invocation was cancelled (`POST /v1/invocations/:id/cancel`), or a training was cancelled because the master is shutting down.',
  NO_WORKERS: 'No live worker can take the invocation.',
  WORKER_UNREACHABLE:
    'A worker could not be reached before the deadline (a trigger, a peer fetch, a report), or it was marked dead while the invocation ran on it.',
  STORE_UNAVAILABLE: "Redis (or the worker's store, while it starts) did not answer.",
  SANDBOX_UNAVAILABLE:
    "No sandbox can run the function: the sandbox is closed, the runtime server is not built, or an image (the runtime image or a function's `image:`) is not on the Docker engine.",
  INTERNAL: 'A bug or an unexpected failure; the message says what failed.',
};

export function errorsMarkdown(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([name, c]) =>
      `| ${code(name)} | ${c.statusCode} | ${c.retryable ? 'yes' : 'no'} | ${cell(MEANINGS[name as ErrorCode])} |`,
  );
  return [
    HEADER('the error-code table in shared/errors.ts'),
    '',
    '# Error codes',
    '',
    'Every failure that crosses a module or process boundary is one `AppError` with a stable',
    '`code`. Over HTTP it is the body `{code, message, details?}` with the status below; a failed',
    'invocation carries the error of the first node that failed in its `error` field. The other',
    'side rebuilds the same error from the body, so a client can branch on `code` and never needs',
    'to parse `message`.',
    '',
    '*Retryable* is what retry policy reads: a function is retried (up to its `retries:`) only on a',
    'retryable error, and so are triggers, reports and fetches between processes. It is the',
    "code's default; a place that knows better overrides it (a runtime image missing from the Docker",
    "engine, or a workflow's `output:` expression failing, is not retried).",
    '',
    '| code | HTTP status | retryable | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
