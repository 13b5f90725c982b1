import { describe, expect, it } from 'vitest';
import { AppError } from '../../../shared/errors.js';
import {
  PROFILE_CSV_COLUMNS,
  formatProfileCsv,
  formatProfileJson,
  parseProfileCsv,
  parseProfileJson,
  type ProfileRecord,
} from '../../../master/harvest/profile.js';

function record(over: Partial<ProfileRecord> = {}): ProfileRecord {
  return {
    workflow: 'video',
    version: 3,
    function: 'recognize',
    node: 'recognize-2',
    invocationId: 'inv_0000000001abcdef',
    dagInputBytes: 10_485_760,
    inputBytes: 5_242_880,
    stage: 'recognize+recognize-2',
    index: 1,
    width: 2,
    peakCpuCores: 2.78,
    peakMemoryMb: 234.32,
    durationMs: 1520.5,
    allocation: { cpu: 8, memoryMb: 8192 },
    at: 1_730_000_000_000,
    ...over,
  };
}

function thrown(f: () => unknown): AppError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected a throw');
}

describe('profile CSV', () => {
  it('round-trips records, quoting fields with commas, quotes and line breaks', () => {
    const tricky = record({ invocationId: 'inv,"odd"\nline', stage: ' spaced ' });
    const records = [record(), tricky, record({ index: 0, peakCpuCores: 0, at: 0 })];
    const text = formatProfileCsv(records);
    expect(text.split('\n')[0]).toBe(PROFILE_CSV_COLUMNS.join(','));
    expect(text).toContain('"inv,""odd""\nline"');
    expect(parseProfileCsv(text)).toEqual(records);
    expect(parseProfileCsv(text.replace(/\n/g, '\r\n'))).toEqual([
      record(),
      { ...tricky, invocationId: 'inv,"odd"\r\nline' },
      record({ index: 0, peakCpuCores: 0, at: 0 }),
    ]);
  });

  it('accepts the columns in any order', () => {
    const text = formatProfileCsv([record()]);
    const [header, row] = text
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const order = header!.map((_, i) => i).reverse();
    const swapped = [
      order.map((i) => header![i]).join(','),
      order.map((i) => row![i]).join(','),
    ].join('\n');
    expect(parseProfileCsv(swapped)).toEqual([record()]);
  });

  it('names the line and field of every bad value, all at once', () => {
    const lines = formatProfileCsv([record(), record(), record()]).trim().split('\n');
    lines[2] = lines[2]!.replace('2.78', 'lots');
    lines[3] = lines[3]!.replace(',8,8192,', ',8,-1,');
    const err = thrown(() => parseProfileCsv(lines.join('\n')));
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toContain('profile CSV: 2 problems');
    expect(err.message).toContain('line 3, field peakCpuCores: "lots" is not a number');
    expect(err.message).toContain(
      'line 4, field allocationMemoryMb: -1 is not valid; must be a finite number > 0',
    );
    expect((err.details as { problems: unknown[] }).problems).toHaveLength(2);
  });

  it('counts lines inside quoted fields when naming a later line', () => {
    const text = formatProfileCsv([record({ invocationId: 'a\nb\nc' }), record()]).replace(
      /,1,2,2\.78,(?![\s\S]*,1,2,2\.78,)/,
      ',1,1,2.78,',
    );
    expect(thrown(() => parseProfileCsv(text)).message).toContain(
      'line 5, field index: 1 is not valid; must be below width 1',
    );
  });

  it('rejects missing, unknown and duplicate columns, short rows and unclosed quotes', () => {
    const good = formatProfileCsv([record()]);
    const [header, row] = good.trim().split('\n');
    const noAt = header!.replace(/,at,/, ',atMs,');
    const m1 = thrown(() => parseProfileCsv(`${noAt}\n${row}`)).message;
    expect(m1).toContain('line 1, field atMs: unknown column');
    expect(m1).toContain('line 1, field at: missing column');
    expect(thrown(() => parseProfileCsv(`${header},at\n${row},1`)).message).toContain(
      'field at: duplicate column',
    );
    expect(thrown(() => parseProfileCsv(`${header}\nvideo,3`)).message).toContain(
      `line 2: 2 fields; the header has ${PROFILE_CSV_COLUMNS.length}`,
    );
    expect(thrown(() => parseProfileCsv(`${header}\n"video,3`)).message).toContain(
      'line 2: a quoted field is not closed',
    );
    expect(thrown(() => parseProfileCsv('')).message).toContain('no header');
  });

  it('rejects non-integers where integers are due, and bad workflow names', () => {
    const lines = formatProfileCsv([record()]).trim().split('\n');
    const bad = lines[1]!.replace(/^video,3,/, 'Video,3.5,');
    const msg = thrown(() => parseProfileCsv(`${lines[0]}\n${bad}`)).message;
    expect(msg).toContain('line 2, field workflow: "Video" is not a workflow name');
    expect(msg).toContain('line 2, field version: 3.5 is not valid; must be an integer ≥ 1');
  });

  it('refuses to write an invalid record', () => {
    const err = thrown(() => formatProfileCsv([record(), record({ peakMemoryMb: Number.NaN })]));
    expect(err.message).toContain('record 1, field peakMemoryMb: NaN is not valid');
  });
});

describe('profile JSON', () => {
  it('round-trips as JSON lines and reads a JSON array too', () => {
    const records = [record(), record({ node: 'recognize', index: 0 })];
    const text = formatProfileJson(records);
    expect(text.trim().split('\n')).toHaveLength(2);
    expect(parseProfileJson(text)).toEqual(records);
    expect(parseProfileJson(JSON.stringify(records))).toEqual(records);
  });

  it('names the line and field of bad values, unknown fields and broken lines', () => {
    const good = JSON.stringify(record());
    const text = [
      good,
      JSON.stringify({ ...record(), peakCpu: 2 }),
      '{ nope',
      JSON.stringify({ ...record(), allocation: { cpu: 0, memoryMb: 128 } }),
    ].join('\n');
    const msg = thrown(() => parseProfileJson(text)).message;
    expect(msg).toContain('line 2, field peakCpu: unknown field');
    expect(msg).toContain('line 3: not valid JSON');
    expect(msg).toContain(
      'line 4, field allocation.cpu: 0 is not valid; must be a finite number > 0',
    );
  });

  it('names the record of a JSON array', () => {
    const msg = thrown(() =>
      parseProfileJson(JSON.stringify([record(), { ...record(), width: 0 }])),
    ).message;
    expect(msg).toContain('record 1, field width: 0 is not valid; must be an integer ≥ 1');
  });
});
