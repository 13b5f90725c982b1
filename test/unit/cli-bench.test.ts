/**
 * `faasflow bench <suite>` declares each suite's options for --help; the suites read them with
 * their own flag readers. Both sides must name the same options: a flag the CLI offers but the
 * suite rejects, or one the suite reads but --help hides, fails here.
 */
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { chainsOptionsFromFlags } from '../../bench/chains.js';
import { composeOptionsFromFlags } from '../../bench/compose.js';
import { durabilityOptionsFromFlags } from '../../bench/durability.js';
import { faasflowOptionsFromFlags } from '../../bench/faasflow-flags.js';
import { fuzzOptionsFromFlags } from '../../bench/fuzz/flags.js';
import { harvestOptionsFromFlags } from '../../bench/harvest-flags.js';
import { overheadOptionsFromFlags } from '../../bench/overhead-flags.js';
import { peerOptionsFromFlags } from '../../bench/peer-flags.js';
import { shardOptionsFromFlags } from '../../bench/shard.js';
import { SUITES, typedFlags } from '../../deploy/cli/bench.js';
import { buildProgram } from '../../deploy/cli/program.js';

type Reader = (flags: Record<string, string | boolean>) => { options: unknown } | { error: string };

const READERS: Record<string, Reader> = {
  overhead: overheadOptionsFromFlags,
  faasflow: faasflowOptionsFromFlags,
  peer: peerOptionsFromFlags,
  harvest: harvestOptionsFromFlags,
  durability: durabilityOptionsFromFlags,
  shard: shardOptionsFromFlags,
  chains: chainsOptionsFromFlags,
  compose: composeOptionsFromFlags,
  fuzz: fuzzOptionsFromFlags,
};

const long = (spec: string): string => spec.split(' ')[0]!;

/** The options a suite's reader knows, from its own "unknown option" message. */
function known(reader: Reader): string[] {
  const r = reader({ definitelyNotAnOption: true });
  if (!('error' in r)) throw new Error('the reader accepted an unknown option');
  const m = /takes (--[^;]*)/.exec(r.error);
  if (!m) throw new Error(`no list of options in: ${r.error}`);
  return m[1]!.split(/,\s*/).map((s) => s.trim());
}

function suiteCommand(suite: string): Command {
  const program = buildProgram(() => undefined, 'test');
  return program.commands
    .find((c) => c.name() === 'bench')!
    .commands.find((c) => c.name() === suite)!;
}

describe('bench suite options', () => {
  it.each(Object.keys(READERS))('bench %s offers exactly the options its reader knows', (suite) => {
    const offered = SUITES[suite]!.options.map(([flags]) => long(flags)).sort();
    expect(offered).toEqual(known(READERS[suite]!).sort());
  });

  it('partition and sandbox offer --smoke and --out (and sandbox --runtime)', () => {
    expect(SUITES['partition']!.options.map(([f]) => long(f))).toEqual(['--smoke', '--out']);
    expect(SUITES['sandbox']!.options.map(([f]) => long(f))).toEqual([
      '--smoke',
      '--runtime',
      '--out',
    ]);
  });

  it('hands the suite what was typed, as its reader takes it', () => {
    const cmd = suiteCommand('faasflow').exitOverride();
    cmd.action(() => undefined);
    cmd.parse(['--size-scale', '0.5', '--no-corun', '--smoke', '--modes', 'worker'], {
      from: 'user',
    });
    const flags = typedFlags(cmd);
    expect(flags).toEqual({ sizeScale: '0.5', noCorun: true, smoke: true, modes: 'worker' });
    const r = faasflowOptionsFromFlags(flags);
    expect(r).toMatchObject({ options: { sizeScale: 0.5, corun: false, modes: ['worker'] } });
  });
});
