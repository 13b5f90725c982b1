/** `faasflow bench <suite>`: dispatch to the suites in bench/. */
import { CliError } from './client.js';

export async function runBench(
  positional: string[],
  flags: Record<string, string | boolean>,
): Promise<number> {
  const suite = positional[0];
  switch (suite) {
    case 'partition': {
      const { runPartitionBench } = await import('../../bench/partition.js');
      await runPartitionBench({
        ...(flags['smoke'] === true
          ? { genomeSizes: [10, 200], generatedSizes: [1000], repetitions: 20, largeRepetitions: 2 }
          : {}),
        ...(typeof flags['out'] === 'string' ? { reportDir: flags['out'] } : {}),
      });
      return 0;
    }
    case 'sandbox': {
      const { runSandboxBench } = await import('../../bench/sandbox.js');
      const only = flags['runtime'];
      await runSandboxBench({
        ...(only === 'process' || only === 'docker' ? { sandboxes: [only] } : {}),
        ...(flags['smoke'] === true ? { coldSamples: 3, warmup: 20, warmIterations: 100 } : {}),
        ...(typeof flags['out'] === 'string' ? { reportDir: flags['out'] } : {}),
      });
      return 0;
    }
    case 'overhead': {
      const { overheadOptionsFromFlags } = await import('../../bench/overhead-flags.js');
      const { runOverheadBench } = await import('../../bench/overhead.js');
      const parsed = overheadOptionsFromFlags(flags);
      if ('error' in parsed) throw new CliError(`bench overhead: ${parsed.error}`, 2);
      // Missed goals are printed, not failures: exit 0 whenever the suite completes.
      await runOverheadBench(parsed.options);
      return 0;
    }
    case 'faasflow': {
      const { faasflowOptionsFromFlags } = await import('../../bench/faasflow-flags.js');
      const { runFaasflowBench } = await import('../../bench/faasflow.js');
      const parsed = faasflowOptionsFromFlags(flags);
      if ('error' in parsed) throw new CliError(`bench faasflow: ${parsed.error}`, 2);
      await runFaasflowBench(parsed.options);
      return 0;
    }
    case 'peer': {
      const { peerOptionsFromFlags } = await import('../../bench/peer-flags.js');
      const { runPeerBench } = await import('../../bench/peer.js');
      const parsed = peerOptionsFromFlags(flags);
      if ('error' in parsed) throw new CliError(`bench peer: ${parsed.error}`, 2);
      // Missed goals are printed, not failures: exit 0 whenever the suite completes.
      await runPeerBench(parsed.options);
      return 0;
    }
    case 'harvest': {
      const { harvestOptionsFromFlags } = await import('../../bench/harvest-flags.js');
      const { runHarvestBench } = await import('../../bench/harvest.js');
      const parsed = harvestOptionsFromFlags(flags);
      if ('error' in parsed) throw new CliError(`bench harvest: ${parsed.error}`, 2);
      await runHarvestBench(parsed.options);
      return 0;
    }
    case undefined:
    default:
      throw new CliError(
        `unknown bench suite ${JSON.stringify(suite ?? '')}; suites: partition, overhead, sandbox, faasflow, peer, harvest`,
        2,
      );
  }
}
