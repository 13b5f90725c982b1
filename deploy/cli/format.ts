/**
 * What the client commands print for people: a short summary or table per answer of the master
 * (`--json` prints the answer itself instead). Pure: the JSON answer in, lines out. The answers
 * are read loosely — a field the master stops sending shows as `-`, it does not crash the CLI.
 */
import { bytes, table } from './harvest-report.js';

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v !== null && typeof v === 'object' ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
const text = (v: unknown): string =>
  v === undefined || v === null ? '-' : typeof v === 'string' ? v : JSON.stringify(v);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
const ms = (v: unknown): string => (num(v) === null ? '-' : `${Math.round(num(v)!)} ms`);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `faasflow deploy`: name, version, size and the partition groups. */
export function deployLines(answer: unknown): string[] {
  const a = obj(answer);
  const groups = arr(a['groups']);
  const lines = [
    `${text(a['name'])} v${text(a['version'])} deployed: ${text(a['nodes'])} nodes, ${text(a['edges'])} edges in ${plural(groups.length, 'group')}`,
    ...groups.map((g, i) => `  [${i}] ${arr(g).map(text).join(', ')}`),
  ];
  for (const w of arr(a['warnings'])) lines.push(`  warning: ${text(w)}`);
  return lines;
}

/** The error of an invocation as one line: code and message. */
function errorText(e: unknown): string {
  const err = obj(e);
  return `${text(err['code'])}: ${text(err['message'])}`;
}

/** `faasflow invoke`: the status line, then the output (or the error). */
export function invokeLines(answer: unknown): string[] {
  const a = obj(answer);
  if (a['status'] === undefined)
    return [
      `invocation ${text(a['invocationId'])} accepted`,
      `  follow it with: faasflow status ${text(a['invocationId'])}`,
    ];
  const lines = [`${text(a['status'])} in ${ms(a['durationMs'])}  (${text(a['invocationId'])})`];
  if (a['error'] !== undefined) lines.push(`error ${errorText(a['error'])}`);
  else lines.push(JSON.stringify(a['output'] ?? null, null, 2));
  return lines;
}

/** `faasflow status`: the invocation, then its timeline with times from its start. */
export function statusLines(answer: unknown): string[] {
  const a = obj(answer);
  const t0 = Date.parse(text(a['startedAt']));
  const at = (v: unknown): string =>
    num(v) === null || Number.isNaN(t0) ? '-' : `+${Math.round(num(v)! - t0)}`;
  const lines = [
    `${text(a['invocationId'])}: ${text(a['workflow'])} v${text(a['version'])}, ${text(a['status'])} in ${ms(a['durationMs'])} (started ${text(a['startedAt'])})`,
  ];
  if (a['error'] !== undefined) lines.push(`  error ${errorText(a['error'])}`);
  const steps = arr(a['steps']).map(obj);
  if (steps.length > 0) {
    lines.push(
      '',
      ...table([
        [
          'node',
          'worker',
          'status',
          'ready',
          'start',
          'end',
          'queue',
          'run',
          'cold',
          'out',
          'tier',
        ],
        ...steps.map((s) => [
          text(s['node']),
          text(s['worker']),
          text(s['status']),
          at(s['readyAt']),
          at(s['startedAt']),
          at(s['finishedAt']),
          ms(s['queueMs']),
          ms(s['runMs']),
          s['cold'] === true ? 'cold' : '',
          bytes(num(s['outputBytes'])),
          text(s['tier']),
        ]),
      ]),
      '  (times in ms from the start of the invocation)',
    );
  }
  if (a['stepsDropped'] !== undefined) lines.push(`  ${text(a['stepsDropped'])} steps not kept`);
  for (const s of steps)
    if (s['error'] !== undefined) lines.push(`  ${text(s['node'])}: ${errorText(s['error'])}`);
  if (a['harvest'] !== undefined) lines.push('', ...harvestLines(obj(a['harvest'])));
  if (a['status'] === 'succeeded') lines.push('', 'output:', JSON.stringify(a['output'], null, 2));
  return lines;
}

/** The timeline's harvest section: per task node what was predicted, applied and measured. */
function harvestLines(h: Json): string[] {
  const alloc = (v: unknown): string => {
    const x = obj(v);
    return x['cpu'] === undefined ? '-' : `${text(x['cpu'])} cpu / ${text(x['memoryMb'])} MB`;
  };
  const peaks = (v: unknown): string => {
    const x = obj(v);
    const cpu = num(x['cpuCores']);
    const mem = num(x['memoryMb']);
    return cpu === null && mem === null
      ? '-'
      : `${cpu === null ? '-' : cpu.toFixed(2)} cpu / ${mem === null ? '-' : mem.toFixed(1)} MB`;
  };
  return [
    `harvest: mode ${text(h['mode'])}, model set v${text(h['modelVersion'])}, max ${alloc(h['max'])}`,
    ...table([
      ['node', 'user', 'predicted', 'applied', 'measured', 'reason'],
      ...arr(h['nodes'])
        .map(obj)
        .map((n) => [
          text(n['node']),
          alloc(n['user']),
          alloc(n['predicted']),
          alloc(n['applied']),
          peaks(n['measured']),
          n['reason'] === undefined ? '' : text(obj(n['reason'])['code']),
        ]),
    ]),
  ];
}

/** `faasflow workers`: one row per registered worker. */
export function workersLines(answer: unknown): string[] {
  const workers = arr(obj(answer)['workers']).map(obj);
  if (workers.length === 0) return ['no workers registered'];
  return table(
    [
      [
        'id',
        'status',
        'runtime',
        'cpu',
        'cpu used',
        'memory MB',
        'running',
        'queued',
        'url',
        'last seen',
      ],
      ...workers.map((w) => {
        const cap = obj(w['capacity']);
        const load = obj(w['load']);
        return [
          text(w['id']),
          // A hot worker (docs/guides/sharding.md §hot workers) gets no new groups.
          w['hot'] === true ? `${text(w['status'])},hot` : text(w['status']),
          text(w['runtime']),
          text(cap['cpu']),
          typeof load['utilization'] === 'number'
            ? `${Math.round(load['utilization'] * 100)}%`
            : '—',
          text(cap['memoryMb']),
          text(load['running']),
          text(load['queued']),
          text(w['url']),
          text(w['lastSeenAt']),
        ];
      }),
    ],
    '',
  );
}
