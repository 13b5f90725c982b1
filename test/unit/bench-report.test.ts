import { describe, expect, it } from 'vitest';
import {
  commandLine,
  fileTimestamp,
  formatDuration,
  formatTable,
  machineInfo,
  percentile,
  summarize,
} from '../../bench/report.js';

describe('percentile', () => {
  it('returns the nearest-rank sample, so every figure was observed', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 0.5)).toBe(50);
    expect(percentile(sorted, 0.99)).toBe(99);
    expect(percentile(sorted, 1)).toBe(100);
    expect(percentile([7], 0.99)).toBe(7);
  });

  it('gives the lower middle sample as p50 of an even count (nearest rank)', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3], 0.5)).toBe(2);
  });

  it('rejects an empty sample set and p outside (0, 1]', () => {
    expect(() => percentile([], 0.5)).toThrow(/no samples/);
    expect(() => percentile([1], 0)).toThrow(/\(0, 1\]/);
    expect(() => percentile([1], 1.5)).toThrow(/\(0, 1\]/);
  });
});

describe('summarize', () => {
  it('sorts a copy and reports count, p50, p99, mean, min and max', () => {
    const samples = [5, 1, 4, 2, 3];
    expect(summarize(samples)).toEqual({
      count: 5,
      p50Ms: 3,
      p99Ms: 5,
      meanMs: 3,
      minMs: 1,
      maxMs: 5,
    });
    expect(samples).toEqual([5, 1, 4, 2, 3]);
  });

  it('is null for no samples rather than a misleading zero', () => {
    expect(summarize([])).toBeNull();
  });
});

describe('formatDuration', () => {
  it('prints µs below a millisecond and ms above', () => {
    expect(formatDuration(0.0534)).toBe('53 µs');
    expect(formatDuration(1.2)).toBe('1.20 ms');
    expect(formatDuration(250.4)).toBe('250 ms');
  });

  it('prints a dash for a missing figure', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(Number.NaN)).toBe('—');
  });
});

describe('formatTable', () => {
  it('aligns columns under the header with a rule, left or right as asked', () => {
    const lines = formatTable(
      ['metric', 'p50'],
      [
        ['a', '1 ms'],
        ['longer name', '10 ms'],
      ],
      ['left'],
    );
    expect(lines).toEqual([
      'metric         p50',
      '-----------  -----',
      'a             1 ms',
      'longer name  10 ms',
    ]);
  });

  it('names the row whose cell count does not match the header', () => {
    expect(() => formatTable(['a', 'b'], [['1', '2'], ['3']])).toThrow(
      /row 1 has 1 cells; the header has 2/,
    );
  });
});

describe('run metadata', () => {
  it('describes the machine with cpu count, model, memory and node version', () => {
    const m = machineInfo();
    expect(m.cpus).toBeGreaterThan(0);
    expect(m.memoryMb).toBeGreaterThan(0);
    expect(m.nodeVersion).toBe(process.version);
    expect(m.cpuModel.length).toBeGreaterThan(0);
  });

  it('quotes arguments of the command line that a shell would split', () => {
    expect(commandLine(['node', 'main.js', 'bench', '--out', "my dir's"])).toBe(
      `node main.js bench --out 'my dir'\\''s'`,
    );
  });

  it('makes sortable file-name timestamps', () => {
    expect(fileTimestamp(new Date('2026-01-02T03:04:05.678Z'))).toBe('20260102-030405');
  });
});
