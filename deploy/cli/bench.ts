/**
 * `faasflow bench <suite>`: one subcommand per suite of bench/, with its options declared here
 * for `--help` and the docs. The suites keep their own flag readers (bench/*-flags.ts: every
 * problem reported at once, in their words); what was typed is handed over as the camel-cased
 * flag map they read. test/unit/cli-bench.test.ts checks both sides name the same options.
 * Each suite is imported only when it runs, so `--help` loads none of them.
 */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { CliError, EXIT } from './client.js';
import { progress } from './progress.js';

type Flags = Record<string, string | boolean>;
type Print = (line: string) => void;

/** [flags, description, default shown by --help]. */
type Spec = readonly [string, string, string?];

const SMOKE: Spec = ['--smoke', 'tiny sizes: only has to complete and print its table (CI)'];
const OUT: Spec = ['--out <dir>', 'where the JSON report goes', '.bench'];
const REDIS: Spec = ['--redis <url>', 'Redis the suite uses', 'redis://127.0.0.1:6379'];

export const SUITES: Record<string, { summary: string; options: readonly Spec[] }> = {
  partition: {
    summary: "Partitioning time and data kept local on FaaSFlow's benchmarks and generated DAGs.",
    options: [SMOKE, OUT],
  },
  overhead: {
    summary: 'Per-invocation overhead and throughput of a local cluster (or of --master URL).',
    options: [
      SMOKE,
      ['--iterations <n>', 'measured invocations per workflow', '500'],
      ['--warmup <n>', 'unmeasured invocations per workflow first', '50'],
      ['--concurrency <n>', 'concurrent callers for throughput', '32'],
      ['--seconds <n>', 'measured throughput time', '5'],
      ['--master <url>', 'measure this running master instead of starting a cluster'],
      OUT,
    ],
  },
  durability: {
    summary:
      'What durability costs per group boundary (none, checkpoint, strict) and what it recovers.',
    options: [
      SMOKE,
      ['--iterations <n>', 'measured invocations per mode', '300'],
      ['--warmup <n>', 'unmeasured invocations per mode first', '50'],
      ['--invocations <n>', 'invocations in flight when a worker is killed', '24'],
      REDIS,
      OUT,
    ],
  },
  sandbox: {
    summary:
      'Cold start, warm call, chain of 5 (no-op and 1 MB) and resize times of every tier: process, Docker, thread, trusted.',
    options: [
      SMOKE,
      [
        '--runtime <tiers>',
        'only these tiers, comma-separated: process, docker, thread, trusted',
        'all',
      ],
      OUT,
    ],
  },
  faasflow: {
    summary: "FaaSFlow's paper benchmarks in WorkerSP and MasterSP modes.",
    options: [
      SMOKE,
      ['--workers <n>', 'workers of the local cluster (ignored with --hosts)', '3'],
      ['--hosts <n>', 'run across this many network-namespace worker hosts'],
      ['--bandwidth <rates>', 'rate cap per host link, one cluster each (25mbit,100mbit)'],
      ['--latency <ms>', 'one-way delay per host link (--hosts only)'],
      ['--runtime <runtime>', 'process or docker', 'process'],
      ['--scale <x>', "multiplies each function's declared runtime, in (0, 1]", '0.02'],
      ['--size-scale <x>', 'multiplies the bytes each function emits, in (0, 1]', '1'],
      ['--repetitions <n>', 'measured invocations per benchmark and mode', '10'],
      ['--warmup <n>', 'unmeasured invocations per benchmark and mode first', '2'],
      ['--benchmarks <list>', 'comma-separated benchmarks', 'the eight of the paper'],
      ['--modes <list>', 'comma-separated: worker, master', 'worker,master'],
      ['--no-corun', 'skip the run of all benchmarks at once'],
      REDIS,
      ['--benchmarks-dir <dir>', "FaaSFlow's benchmark files", 'bench/data/faasflow'],
      OUT,
    ],
  },
  peer: {
    summary:
      'BullMQ flows against faasflow on the same DAG shapes and Redis (needs the dev dependencies: npm ci).',
    options: [
      SMOKE,
      ['--repetitions <n>', 'measured closed-loop invocations per shape (no-op)', '300'],
      ['--warmup <n>', 'unmeasured invocations first', '30'],
      ['--duration <s>', 'measured open-loop time per shape, payload and system', '5'],
      ['--concurrency <n>', 'concurrent callers of the open loop', '32'],
      ['--payload-concurrency <n>', 'concurrent callers with a payload', 'min(concurrency, 8)'],
      ['--shapes <list>', 'comma-separated: chain5, fanout, genome, foreach', 'all'],
      ['--payload <list>', 'comma-separated: noop, 1mb', 'noop,1mb'],
      ['--systems <list>', 'comma-separated: faasflow, bullmq, bullmq-sandboxed', 'all'],
      REDIS,
      ['--bullmq-processes <n>', 'BullMQ worker processes', '2'],
      ['--bullmq-concurrency <n>', 'jobs a BullMQ worker process runs at once, per queue', '8'],
      OUT,
    ],
  },
  chains: {
    summary:
      'Prewarming off vs eager vs predictive (adaptive task chains): a seeded simulation (--sim) or a local cluster (--cluster); data read ahead on capped links (--data); a burst of sandbox starts through the start gate (--starts).',
    options: [
      ['--sim', 'simulated pools and arrivals'],
      ['--cluster', 'a master and 2 workers as processes, with an all-warm reference'],
      ['--rounds <n>', 'cluster: measured rounds (warm-up: a quarter of them, 2..8)', '30'],
      ['--runtime <tier>', 'cluster: process or docker sandboxes', 'process'],
      [
        '--data',
        'Cycles and Genome on namespace hosts with capped links, joins reading ahead off vs on (root)',
      ],
      [
        '--starts',
        'a burst of sandbox starts on one worker, its start gate off vs on (--runtime, --burst, --repetitions)',
      ],
      ['--burst <n>', 'starts: prepares asked for at once', '8'],
      [
        '--near',
        'placement near a database labelled near=db, with and without uses:, on namespace hosts with capped links (root)',
      ],
      ['--blob-kb <n>', 'near: the object each query reads from the database, KB', '1024'],
      ['--hosts <n>', 'data: namespace worker hosts', '3'],
      ['--bandwidth <rate>', 'data: the cap of every host link', '25mbit'],
      [
        '--repetitions <n>',
        'data: measured invocations per benchmark and setting; starts: bursts per setting',
        '5',
      ],
      SMOKE,
      ['--seed <n>', 'seed of the arrivals, branches and run times', '1'],
      ['--invocations <n>', 'primary invocations (successors come on top)', '800'],
      ['--budget <fraction>', 'share of sandbox memory-seconds unused prewarms may take', '0.1'],
      ['--cold-ms <ms>', 'cold-start time (process ~70, Docker ~160)', '70'],
      ['--idle-ms <ms>', 'idle timeout of a warm sandbox', '3000 (sim), 1500 (cluster)'],
      [
        '--start-concurrency <n>',
        'cluster: sandboxes each worker starts at once (0: no limit)',
        "the workers' cores",
      ],
      OUT,
    ],
  },
  compose: {
    summary:
      'Composition: the learner against ε-greedy, independent models and one-hot arms in a seeded simulator; --cluster: learned against static on a local cluster.',
    options: [
      SMOKE,
      ['--cluster', 'run the cluster part (a master and 2 workers) instead of the simulator'],
      ['--invocations <n>', 'invocations of the cluster part', '400'],
      ['--decisions <n>', 'decisions of the main run (drift halfway)', '20000'],
      ['--policy-decisions <n>', 'decisions of the policy check', '100000'],
      ['--seed <n>', 'seed of the simulated world', '1'],
      OUT,
    ],
  },
  fuzz: {
    summary:
      'Property-based fuzzing of every door: the YAML front end and every route of the master and the worker.',
    options: [
      SMOKE,
      ['--cases <n>', 'cases in all, shared by the properties run', '100000'],
      ['--seed <n>', 'seed of the run (a failure prints the one that replays it)', 'random'],
      ['--path <path>', 'replay one counterexample: the path a failure printed, with its --seed'],
      ['--target <target>', 'yaml, master, worker or all', 'all'],
      OUT,
    ],
  },
  harvest: {
    summary: 'Resource harvesting: speedups and utilisation of the harvest workloads.',
    options: [
      SMOKE,
      ['--workloads <list>', 'comma-separated: parallel-aes, video-analytics, ml-pipeline', 'all'],
      ['--loads <list>', 'comma-separated: low, medium, high', 'all'],
      [
        '--modes <list>',
        'comma-separated: off, off-again, predict, predict-rebalance, rebalance-only, peak, oracle, uncapped',
        'all',
      ],
      ['--placements <list>', 'comma-separated placements', 'all five'],
      ['--requests <n>', 'requests per load level', '100'],
      ['--profile-runs <n>', 'profiling runs before the measured ones', '21'],
      ['--levels <lo-hi>', 'input size levels within 1-7', '1-5'],
      ['--workers <n>', 'workers of the local cluster', '2'],
      ['--repetitions <n>', 'repetitions of every configuration (fresh cluster each)', '3'],
      [
        '--user-cpu <cores>',
        "every function's user allocation, cores (the skew-blind baseline)",
        '0.5',
      ],
      [
        '--variant <name>',
        'threads (handlers that use their cores) or single (the control)',
        'threads',
      ],
      REDIS,
      ['--seed <n>', 'seed of the inputs and arrivals', '1'],
      [
        '--from <file>',
        'print the tables of a saved report (its JSON) again, measuring nothing',
        '—',
      ],
      OUT,
    ],
  },
  shard: {
    summary:
      'Sharding: keyed re-sharding under a moving hot spot, sharded foreach with stealing, size: auto, forecasts (--sim: a seeded simulation; --cluster: the sharded foreach and the keyed load on local clusters).',
    options: [
      ['--sim', 'run the seeded discrete-event simulation of the sharding core'],
      [
        '--cluster',
        'run on local clusters (a master and 3 workers): the sharded foreach, sharded vs unsharded; the keyed Zipf load, static hash routing vs the re-sharding loop',
      ],
      [
        '--part <part>',
        'with --cluster: foreach (sharded vs unsharded), noisy (stealing vs an even split beside a CPU hog; needs root and cgroups), keyed, or all',
        'all',
      ],
      ['--runs <n>', 'measured invocations of each workflow (--cluster foreach part)', '15'],
      [
        '--seconds <n>',
        'measured seconds of the keyed load per router (--cluster keyed part; the hot keys move halfway)',
        '60',
      ],
      SMOKE,
      ['--seed <n>', 'seed of the simulated load', '1'],
      OUT,
    ],
  },
};

/** What was typed, as the suites' flag readers take it: `--size-scale 1` → `{ sizeScale: '1' }`. */
export function typedFlags(cmd: Command): Flags {
  const values = cmd.opts<Record<string, unknown>>();
  const flags: Flags = {};
  for (const opt of cmd.options) {
    const attr = opt.attributeName();
    if (opt.long === undefined || cmd.getOptionValueSource(attr) !== 'cli') continue;
    const key = opt.long.slice(2).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const v = values[attr];
    // `--no-corun` arrives as corun=false; the suite reads the flag as typed.
    flags[key] = typeof v === 'boolean' ? true : String(v);
  }
  return flags;
}

function parsed<T>(suite: string, r: { options: T } | { error: string }): T {
  if ('error' in r) throw new CliError(`bench ${suite}: ${r.error}`, EXIT.usage);
  return r.options;
}

/** Runs one suite. Missed goals are printed, not failures: exit 0 whenever the suite completes. */
async function runSuite(suite: string, flags: Flags, print: Print): Promise<void> {
  const out = typeof flags['out'] === 'string' ? { reportDir: flags['out'] } : {};
  const smoke = flags['smoke'] === true;
  switch (suite) {
    case 'partition': {
      const { runPartitionBench } = await import('../../bench/partition.js');
      await runPartitionBench({
        ...(smoke
          ? { genomeSizes: [10, 200], generatedSizes: [1000], repetitions: 20, largeRepetitions: 2 }
          : {}),
        ...out,
        print,
      });
      return;
    }
    case 'sandbox': {
      const { runSandboxBench, BENCH_TIERS } = await import('../../bench/sandbox.js');
      const only = flags['runtime'];
      const tiers = typeof only === 'string' ? only.split(',').map((t) => t.trim()) : [];
      const valid = (t: string): t is (typeof BENCH_TIERS)[number] =>
        (BENCH_TIERS as readonly string[]).includes(t);
      if (only !== undefined && (tiers.length === 0 || !tiers.every(valid)))
        throw new CliError(
          `bench sandbox: --runtime must be a comma-separated list of ${BENCH_TIERS.join(', ')}, got ${String(only)}`,
          EXIT.usage,
        );
      await runSandboxBench({
        ...(only !== undefined ? { sandboxes: tiers.filter(valid) } : {}),
        ...(smoke
          ? {
              coldSamples: 3,
              warmup: 20,
              warmIterations: 100,
              chainIterations: 20,
              payloadBytes: 64 * 1024,
            }
          : {}),
        ...out,
        print,
      });
      return;
    }
    case 'overhead': {
      const { overheadOptionsFromFlags } = await import('../../bench/overhead-flags.js');
      const options = parsed(suite, overheadOptionsFromFlags(flags));
      const { runOverheadBench } = await import('../../bench/overhead.js');
      await runOverheadBench({ ...options, print });
      return;
    }
    case 'faasflow': {
      const { faasflowOptionsFromFlags } = await import('../../bench/faasflow-flags.js');
      const options = parsed(suite, faasflowOptionsFromFlags(flags));
      const { runFaasflowBench } = await import('../../bench/faasflow.js');
      await runFaasflowBench({ ...options, print });
      return;
    }
    case 'peer': {
      const { peerOptionsFromFlags } = await import('../../bench/peer-flags.js');
      const options = parsed(suite, peerOptionsFromFlags(flags));
      const { runPeerBench } = await import('../../bench/peer.js');
      await runPeerBench({ ...options, print });
      return;
    }
    case 'durability': {
      const { durabilityOptionsFromFlags, runDurabilityBench } =
        await import('../../bench/durability.js');
      const options = parsed(suite, durabilityOptionsFromFlags(flags));
      await runDurabilityBench({ ...options, print });
      return;
    }
    case 'chains': {
      const { chainsOptionsFromFlags, runChainsBench } = await import('../../bench/chains.js');
      const options = parsed(suite, chainsOptionsFromFlags(flags));
      await runChainsBench({ ...options, print });
      return;
    }
    case 'compose': {
      const { composeOptionsFromFlags, runComposeBench } = await import('../../bench/compose.js');
      const options = parsed(suite, composeOptionsFromFlags(flags));
      await runComposeBench({ ...options, print });
      return;
    }
    case 'fuzz': {
      const { fuzzOptionsFromFlags } = await import('../../bench/fuzz/flags.js');
      const options = parsed(suite, fuzzOptionsFromFlags(flags));
      const { runFuzzBench } = await import('../../bench/fuzz/run.js');
      await runFuzzBench({ ...options, print });
      return;
    }
    case 'harvest': {
      const { harvestOptionsFromFlags } = await import('../../bench/harvest-flags.js');
      const options = parsed(suite, harvestOptionsFromFlags(flags));
      const { runHarvestBench } = await import('../../bench/harvest.js');
      await runHarvestBench({ ...options, print });
      return;
    }
    case 'shard': {
      const { shardOptionsFromFlags, runShardBench, runShardClusterBench } =
        await import('../../bench/shard.js');
      const options = parsed(suite, shardOptionsFromFlags(flags));
      if (options.cluster) await runShardClusterBench({ ...options, print });
      else runShardBench({ ...options, print });
      return;
    }
    default:
      throw new CliError(`unknown bench suite ${suite}`, EXIT.usage);
  }
}

export function addBenchCommands(program: Command, done: (code: number) => void): void {
  const bench = program
    .command('bench')
    .summary('Run a benchmark suite')
    .description(
      'Run a benchmark suite from bench/ and write its JSON report (with the machine, the versions and the command line) under --out. `npm run build` first: the suites start processes from dist/.',
    );
  for (const [suite, spec] of Object.entries(SUITES)) {
    const cmd = bench.command(suite).description(spec.summary);
    for (const [flags, description, shown] of spec.options) {
      const opt = new Option(flags, description);
      // Shown, never handed over (typedFlags keeps what was typed): the suites apply their own
      // defaults, and --smoke's.
      if (shown !== undefined) opt.default(shown, shown);
      cmd.addOption(opt);
    }
    // --json is the CLI's, not the suite's: the report the suite wrote, on stdout.
    cmd.option('--json', "print the suite's JSON report on stdout (the tables go to stderr)");
    cmd.action(async (o: { json?: boolean }, self: Command) => {
      const json = o.json === true;
      const bar = progress({
        total: 0,
        label: `bench ${suite}`,
        enabled: !json,
        plainLines: false,
      });
      let reportPath: string | undefined;
      // The suite's lines are the steps (and, off a terminal, the whole progress).
      const print: Print = (line) => {
        reportPath = /^report: (.+)$/.exec(line)?.[1] ?? reportPath;
        if (json) process.stderr.write(`${line}\n`);
        else {
          bar.print(line);
          if (line.trim() !== '') bar.tick();
        }
      };
      const { json: _json, ...flags } = typedFlags(self);
      try {
        await runSuite(suite, flags, print);
      } finally {
        bar.done();
      }
      if (json) {
        if (reportPath === undefined) throw new CliError(`bench ${suite} wrote no report`);
        const report = JSON.parse(await readFile(reportPath, 'utf8')) as unknown;
        console.log(JSON.stringify(report, null, 2));
      }
      done(EXIT.ok);
    });
  }
}
