/**
 * The bench report file (bench/report.ts) on a real filesystem.
 * Scenarios: the report lands in <dir>/<suite>-<timestamp>.json, creating missing folders, and
 * reads back as written; the commit is read from a git checkout without changing git state.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gitCommit, machineInfo, writeReport } from '../../bench/report.js';
import { repoRoot } from '../../bench/paths.js';

describe('bench report', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('writes <suite>-<timestamp>.json into a folder it creates', () => {
    const base = mkdtempSync(join(tmpdir(), 'bench-report-'));
    dirs.push(base);
    const report = {
      suite: 'overhead',
      startedAt: '2026-01-02T03:04:05.000Z',
      command: 'faasflow bench overhead',
      machine: machineInfo(),
      git: { commit: null, dirty: null },
      figures: { x: 1 },
    };
    const path = writeReport(report, join(base, 'nested', '.bench'));
    expect(path).toBe(join(base, 'nested', '.bench', 'overhead-20260102-030405.json'));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(report);
  });

  it('reads the commit of a checkout, and null outside one', () => {
    const inside = gitCommit(repoRoot());
    expect(inside.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(typeof inside.dirty).toBe('boolean');
    const outside = mkdtempSync(join(tmpdir(), 'bench-nogit-'));
    dirs.push(outside);
    expect(gitCommit(outside)).toEqual({ commit: null, dirty: null });
  });
});
