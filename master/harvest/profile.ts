/**
 * Profile records: one function run of one invocation, as the profiler measured it (the
 * thesis's DAG profile: stage, input sizes, peak CPU and memory). Serialised as CSV (RFC 4180:
 * a header, fields quoted when they hold a comma, a quote or a line break, quotes doubled) or as
 * JSON (one record per line; a JSON array is read too), and parsed back with every problem
 * reported at once, each naming its line (record for a JSON array) and field. Pure: text in,
 * text out.
 *
 * Peaks should come from runs at the maximum allocation (the thesis's "max allocation
 * invocation"), otherwise they are capped by the allocation and the models learn the cap.
 */
import { AppError } from '../../shared/errors.js';
import type { Allocation } from '../../shared/schema/wire.js';
import { WORKFLOW_NAME_RE } from '../workflow/limits.js';

export interface ProfileRecord {
  workflow: string;
  /** Workflow version, ≥ 1. */
  version: number;
  function: string;
  /** Node id (`foreach/node` inside a foreach body). */
  node: string;
  invocationId: string;
  /** Size of the invocation's input. */
  dagInputBytes: number;
  /** Size of this function's input. */
  inputBytes: number;
  /** Stage id (see `stages.ts`), index of the node in it and its width (run-time width for foreach). */
  stage: string;
  index: number;
  width: number;
  /** Peak cores used during the run. */
  peakCpuCores: number;
  /** Peak memory during the run, without page cache. */
  peakMemoryMb: number;
  durationMs: number;
  /** What the run was given. */
  allocation: Allocation;
  /** When the run started, epoch ms. */
  at: number;
  /**
   * CPU time the run used: its *work*, which the `work` policy shares a stage's CPU by. Absent
   * in records from before it was profiled (and in imports that lack the column).
   */
  cpuTimeMs?: number;
  /**
   * Time the run's cgroup was held back by its CPU quota (cgroup `cpu.stat` throttled time), and
   * time it had runnable tasks waiting for a CPU (`cpu.pressure` some, cgroup v2 only): a run
   * with either measured contention, not demand, and is left out of training.
   */
  throttledMs?: number;
  pressureMs?: number;
}

type FieldKind = 'workflow' | 'text' | 'count' | 'positiveInt' | 'amount' | 'positive';

interface Field {
  /** CSV column. */
  column: string;
  kind: FieldKind;
  get(r: ProfileRecord): string | number | undefined;
  /** May be absent: an empty CSV cell or a missing column or JSON key. */
  optional?: true;
}

/** CSV columns, in the order they are written. */
const FIELDS: readonly Field[] = [
  { column: 'workflow', kind: 'workflow', get: (r) => r.workflow },
  { column: 'version', kind: 'positiveInt', get: (r) => r.version },
  { column: 'function', kind: 'text', get: (r) => r.function },
  { column: 'node', kind: 'text', get: (r) => r.node },
  { column: 'invocationId', kind: 'text', get: (r) => r.invocationId },
  { column: 'dagInputBytes', kind: 'count', get: (r) => r.dagInputBytes },
  { column: 'inputBytes', kind: 'count', get: (r) => r.inputBytes },
  { column: 'stage', kind: 'text', get: (r) => r.stage },
  { column: 'index', kind: 'count', get: (r) => r.index },
  { column: 'width', kind: 'positiveInt', get: (r) => r.width },
  { column: 'peakCpuCores', kind: 'amount', get: (r) => r.peakCpuCores },
  { column: 'peakMemoryMb', kind: 'amount', get: (r) => r.peakMemoryMb },
  { column: 'durationMs', kind: 'amount', get: (r) => r.durationMs },
  { column: 'allocationCpu', kind: 'positive', get: (r) => r.allocation.cpu },
  { column: 'allocationMemoryMb', kind: 'positive', get: (r) => r.allocation.memoryMb },
  { column: 'at', kind: 'count', get: (r) => r.at },
  { column: 'cpuTimeMs', kind: 'amount', get: (r) => r.cpuTimeMs, optional: true },
  { column: 'throttledMs', kind: 'amount', get: (r) => r.throttledMs, optional: true },
  { column: 'pressureMs', kind: 'amount', get: (r) => r.pressureMs, optional: true },
];

const OPTIONAL_COLUMNS: readonly string[] = FIELDS.filter((f) => f.optional).map((f) => f.column);

export const PROFILE_CSV_COLUMNS: readonly string[] = FIELDS.map((f) => f.column);

const MAX_TEXT = 256;
/** Problems listed in an error message; all of them are in `details.problems`. */
const MAX_LISTED = 20;

export interface ProfileProblem {
  /** 1-based line (CSV, JSON lines) or record index (JSON array, 0-based). */
  line?: number;
  record?: number;
  field?: string;
  message: string;
}

// ---------------------------------------------------------------------------------------------
// Validation

function checkValue(kind: FieldKind, value: unknown): string | null {
  switch (kind) {
    case 'workflow':
      return typeof value === 'string' && WORKFLOW_NAME_RE.test(value)
        ? null
        : `${show(value)} is not a workflow name; lower-case letters, digits and -, at most 63`;
    case 'text':
      return typeof value === 'string' && value.length > 0 && value.length <= MAX_TEXT
        ? null
        : `${show(value)} is not valid; must be a non-empty string of at most ${MAX_TEXT} characters`;
    case 'count':
      return Number.isSafeInteger(value) && (value as number) >= 0
        ? null
        : `${show(value)} is not valid; must be an integer ≥ 0`;
    case 'positiveInt':
      return Number.isSafeInteger(value) && (value as number) >= 1
        ? null
        : `${show(value)} is not valid; must be an integer ≥ 1`;
    case 'amount':
      return typeof value === 'number' && Number.isFinite(value) && value >= 0
        ? null
        : `${show(value)} is not valid; must be a finite number ≥ 0`;
    case 'positive':
      return typeof value === 'number' && Number.isFinite(value) && value > 0
        ? null
        : `${show(value)} is not valid; must be a finite number > 0`;
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'a missing value';
  const s = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? typeof value);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Problems of one record, cross-field checks included; `[]` when it is valid. */
export function checkProfileRecord(r: ProfileRecord): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  for (const f of FIELDS) {
    const v = f.get(r);
    if (v === undefined && f.optional) continue;
    const msg = checkValue(f.kind, v);
    if (msg) out.push({ field: f.column, message: msg });
  }
  if (out.length === 0 && r.index >= r.width)
    out.push({
      field: 'index',
      message: `${r.index} is not valid; must be below width ${r.width}`,
    });
  return out;
}

function fail(what: string, problems: ProfileProblem[]): never {
  const where = (p: ProfileProblem): string =>
    [
      p.line !== undefined ? `line ${p.line}` : p.record !== undefined ? `record ${p.record}` : '',
      p.field !== undefined ? `field ${p.field}` : '',
    ]
      .filter(Boolean)
      .join(', ');
  const listed = problems
    .slice(0, MAX_LISTED)
    .map((p) => `  ${where(p)}${where(p) ? ': ' : ''}${p.message}`);
  if (problems.length > MAX_LISTED) listed.push(`  … and ${problems.length - MAX_LISTED} more`);
  const n = problems.length;
  throw new AppError(
    'BAD_REQUEST',
    `${what}: ${n} problem${n === 1 ? '' : 's'}\n${listed.join('\n')}`,
    {
      details: { problems },
    },
  );
}

function assertValid(records: readonly ProfileRecord[], what: string): void {
  const problems: ProfileProblem[] = [];
  records.forEach((r, i) => {
    for (const p of checkProfileRecord(r)) problems.push({ record: i, ...p });
  });
  if (problems.length > 0) fail(what, problems);
}

// ---------------------------------------------------------------------------------------------
// CSV

function quoteCsv(value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim()
    ? `"${value.replace(/"/g, '""')}"`
    : value;
}

/** Header plus one line per record, `\n`-terminated. Throws BAD_REQUEST on an invalid record. */
export function formatProfileCsv(records: readonly ProfileRecord[]): string {
  assertValid(records, 'profile records');
  const lines = [PROFILE_CSV_COLUMNS.join(',')];
  for (const r of records)
    lines.push(FIELDS.map((f) => quoteCsv(String(f.get(r) ?? ''))).join(','));
  return lines.join('\n') + '\n';
}

interface CsvRow {
  line: number;
  cells: string[];
}

/** RFC 4180 rows; `\n`, `\r\n` or `\r` end a record; blank lines are skipped. */
function splitCsv(text: string, problems: ProfileProblem[]): CsvRow[] {
  const rows: CsvRow[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const cells: string[] = [];
    let cell = '';
    let quoted = false;
    let ended = false;
    let broken = false;
    while (i < n && !ended) {
      const ch = text[i]!;
      if (quoted) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            cell += '"';
            i += 2;
          } else {
            quoted = false;
            i++;
            const next = text[i];
            if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
              problems.push({ line, message: 'a closing quote must end its field' });
              broken = true;
            }
          }
        } else {
          if (ch === '\n' || (ch === '\r' && text[i + 1] !== '\n')) line++;
          cell += ch;
          i++;
        }
      } else if (ch === '"' && cell.length === 0) {
        quoted = true;
        i++;
      } else if (ch === '"') {
        problems.push({
          line,
          message: 'a quote inside an unquoted field; quote the field and double the quote',
        });
        broken = true;
        cell += ch;
        i++;
      } else if (ch === ',') {
        cells.push(cell);
        cell = '';
        i++;
      } else if (ch === '\n' || ch === '\r') {
        i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
        line++;
        ended = true;
      } else {
        cell += ch;
        i++;
      }
    }
    if (quoted) {
      problems.push({
        line: startLine,
        message: 'a quoted field is not closed before the end of the text',
      });
      broken = true;
    }
    cells.push(cell);
    const blank = cells.length === 1 && cells[0] === '';
    if (!blank && !broken) rows.push({ line: startLine, cells });
  }
  return rows;
}

const NUMBER_RE = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseCell(kind: FieldKind, raw: string): string | number | undefined {
  if (kind === 'workflow' || kind === 'text') return raw;
  return NUMBER_RE.test(raw) ? Number(raw) : undefined;
}

/** Parses `formatProfileCsv` output (columns in any order). Throws BAD_REQUEST listing every problem. */
export function parseProfileCsv(text: string): ProfileRecord[] {
  const problems: ProfileProblem[] = [];
  const rows = splitCsv(text.replace(/^\uFEFF/, ''), problems);
  const header = rows.shift();
  if (!header)
    fail('profile CSV', [
      { line: 1, message: `no header; expected ${PROFILE_CSV_COLUMNS.join(',')}` },
    ]);
  const at = new Map<string, number>();
  header.cells.forEach((c, i) => {
    const name = c.trim();
    if (!PROFILE_CSV_COLUMNS.includes(name))
      problems.push({
        line: header.line,
        field: name,
        message: `unknown column; expected ${PROFILE_CSV_COLUMNS.join(',')}`,
      });
    else if (at.has(name))
      problems.push({ line: header.line, field: name, message: 'duplicate column' });
    else at.set(name, i);
  });
  for (const c of PROFILE_CSV_COLUMNS)
    if (!at.has(c) && !OPTIONAL_COLUMNS.includes(c))
      problems.push({ line: header.line, field: c, message: 'missing column' });
  if (problems.length > 0) fail('profile CSV', problems);

  const records: ProfileRecord[] = [];
  for (const row of rows) {
    if (row.cells.length !== header.cells.length) {
      problems.push({
        line: row.line,
        message: `${row.cells.length} fields; the header has ${header.cells.length}`,
      });
      continue;
    }
    const v = new Map<string, string | number | undefined>();
    let ok = true;
    for (const f of FIELDS) {
      const col = at.get(f.column);
      const raw = col === undefined ? '' : row.cells[col]!;
      if (f.optional && raw === '') continue;
      const value = parseCell(f.kind, raw);
      const msg = value === undefined ? `${show(raw)} is not a number` : checkValue(f.kind, value);
      if (msg) {
        problems.push({ line: row.line, field: f.column, message: msg });
        ok = false;
      }
      v.set(f.column, value);
    }
    if (!ok) continue;
    const r = fromFlat((c) => v.get(c));
    const cross = checkProfileRecord(r);
    for (const p of cross) problems.push({ line: row.line, ...p });
    if (cross.length === 0) records.push(r);
  }
  if (problems.length > 0) fail('profile CSV', problems);
  return records;
}

/** Builds a record from already checked column values. */
function fromFlat(get: (column: string) => unknown): ProfileRecord {
  const s = (c: string): string => get(c) as string;
  const n = (c: string): number => get(c) as number;
  return {
    workflow: s('workflow'),
    version: n('version'),
    function: s('function'),
    node: s('node'),
    invocationId: s('invocationId'),
    dagInputBytes: n('dagInputBytes'),
    inputBytes: n('inputBytes'),
    stage: s('stage'),
    index: n('index'),
    width: n('width'),
    peakCpuCores: n('peakCpuCores'),
    peakMemoryMb: n('peakMemoryMb'),
    durationMs: n('durationMs'),
    allocation: { cpu: n('allocationCpu'), memoryMb: n('allocationMemoryMb') },
    at: n('at'),
    ...Object.fromEntries(
      OPTIONAL_COLUMNS.flatMap((c) => (typeof get(c) === 'number' ? [[c, get(c) as number]] : [])),
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// JSON

const JSON_KEYS = [...PROFILE_CSV_COLUMNS.filter((c) => !c.startsWith('allocation')), 'allocation'];

/** One JSON object per line, `\n`-terminated. Throws BAD_REQUEST on an invalid record. */
export function formatProfileJson(records: readonly ProfileRecord[]): string {
  assertValid(records, 'profile records');
  return records.map((r) => JSON.stringify(normalizeRecord(r)) + '\n').join('');
}

/** Fixed key order, no extra keys. */
function normalizeRecord(r: ProfileRecord): ProfileRecord {
  return {
    workflow: r.workflow,
    version: r.version,
    function: r.function,
    node: r.node,
    invocationId: r.invocationId,
    dagInputBytes: r.dagInputBytes,
    inputBytes: r.inputBytes,
    stage: r.stage,
    index: r.index,
    width: r.width,
    peakCpuCores: r.peakCpuCores,
    peakMemoryMb: r.peakMemoryMb,
    durationMs: r.durationMs,
    allocation: { cpu: r.allocation.cpu, memoryMb: r.allocation.memoryMb },
    at: r.at,
  };
}

/**
 * Parses JSON lines (`formatProfileJson`) or a JSON array of records. Unknown keys are problems,
 * so a misspelt field is never silently dropped. Throws BAD_REQUEST listing every problem.
 */
export function parseProfileJson(text: string): ProfileRecord[] {
  const problems: ProfileProblem[] = [];
  const items: { where: { line: number } | { record: number }; value: unknown }[] = [];
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      fail('profile JSON', [{ message: `not valid JSON: ${(err as Error).message}` }]);
    }
    if (!Array.isArray(parsed)) fail('profile JSON', [{ message: 'expected an array of records' }]);
    parsed.forEach((value: unknown, record) => items.push({ where: { record }, value }));
  } else {
    text.split(/\r?\n/).forEach((raw, i) => {
      if (raw.trim() === '') return;
      try {
        items.push({ where: { line: i + 1 }, value: JSON.parse(raw) });
      } catch (err) {
        problems.push({ line: i + 1, message: `not valid JSON: ${(err as Error).message}` });
      }
    });
  }

  const records: ProfileRecord[] = [];
  for (const { where, value } of items) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push({ ...where, message: 'expected an object' });
      continue;
    }
    const obj = value as Record<string, unknown>;
    let ok = true;
    for (const key of Object.keys(obj))
      if (!JSON_KEYS.includes(key)) {
        problems.push({
          ...where,
          field: key,
          message: `unknown field; expected ${JSON_KEYS.join(', ')}`,
        });
        ok = false;
      }
    const alloc = obj['allocation'];
    const allocObj =
      typeof alloc === 'object' && alloc !== null && !Array.isArray(alloc)
        ? (alloc as Record<string, unknown>)
        : null;
    if (!allocObj) {
      problems.push({
        ...where,
        field: 'allocation',
        message: `${show(alloc)} is not an object {cpu, memoryMb}`,
      });
      ok = false;
    } else {
      for (const key of Object.keys(allocObj))
        if (key !== 'cpu' && key !== 'memoryMb') {
          problems.push({
            ...where,
            field: `allocation.${key}`,
            message: 'unknown field; expected cpu, memoryMb',
          });
          ok = false;
        }
    }
    const get = (column: string): unknown =>
      column === 'allocationCpu'
        ? allocObj?.['cpu']
        : column === 'allocationMemoryMb'
          ? allocObj?.['memoryMb']
          : obj[column];
    for (const f of FIELDS) {
      if (f.optional && get(f.column) === undefined) continue;
      const msg = checkValue(f.kind, get(f.column));
      if (msg) {
        const field =
          f.column === 'allocationCpu'
            ? 'allocation.cpu'
            : f.column === 'allocationMemoryMb'
              ? 'allocation.memoryMb'
              : f.column;
        if (allocObj || !f.column.startsWith('allocation'))
          problems.push({ ...where, field, message: msg });
        ok = false;
      }
    }
    if (!ok) continue;
    const r = fromFlat(get);
    const cross = checkProfileRecord(r);
    for (const p of cross) problems.push({ ...where, ...p });
    if (cross.length === 0) records.push(r);
  }
  if (problems.length > 0) fail('profile JSON', problems);
  return records;
}
