/**
 * Write latency of the master's lmdb store: `putInvocation` of a typical finished invocation
 * doc, one at a time (each awaited, as the invocation manager does), with `dataDirSync` `commit`
 * and `flush`, in a fresh data dir under `--dir` (default the OS temp dir; the disk matters).
 * Prints the median, p99 and mean per mode. Run after `npm run build`:
 *   node dist/bench/store-latency.js --writes 1000 --dir /var/tmp
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { newInvocationId } from '../shared/ids.js';
import { parseFlags } from '../shared/flags.js';
import { silentLogger } from '../shared/logger.js';
import { LmdbMasterStore, type LmdbSync } from '../master/store/lmdb.js';

const flags = parseFlags(process.argv.slice(2));
const writes = Number(flags['writes'] ?? 1000);
const parent = typeof flags['dir'] === 'string' ? flags['dir'] : tmpdir();

async function measure(sync: LmdbSync): Promise<number[]> {
  const dir = mkdtempSync(join(parent, 'ff-store-latency-'));
  const store = LmdbMasterStore.open({ dataDir: dir, sync, logger: silentLogger });
  const ms: number[] = [];
  try {
    for (let i = 0; i < writes; i++) {
      const doc = {
        id: newInvocationId(i),
        workflow: 'wf',
        status: 'succeeded',
        startedAt: i,
        finishedAt: i + 1,
        input: { n: i, text: 'x'.repeat(200) },
        output: { total: i },
        steps: Array.from({ length: 8 }, (_, k) => ({ node: `n${k}`, worker: 'w1', ms: k })),
      };
      const t = performance.now();
      await store.putInvocation(doc);
      ms.push(performance.now() - t);
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return ms.sort((a, b) => a - b);
}

const at = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

console.log(`putInvocation, ${writes} sequential writes, data dir under ${parent}`);
for (const sync of ['commit', 'flush'] as const) {
  const ms = await measure(sync);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  console.log(
    `  ${sync.padEnd(6)} median ${at(ms, 0.5).toFixed(3)} ms  p99 ${at(ms, 0.99).toFixed(3)} ms  mean ${mean.toFixed(3)} ms`,
  );
}
