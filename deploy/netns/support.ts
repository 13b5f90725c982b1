/** Whether this machine can run namespace hosts, and if not, why (for tests that must say so). */
import { run } from './run.js';

export type NetnsSupport = { ok: true } | { ok: false; reason: string };

export async function netnsSupport(): Promise<NetnsSupport> {
  if (process.platform !== 'linux')
    return { ok: false, reason: `network namespaces need Linux, not ${process.platform}` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'network namespaces need root' };
  for (const tool of ['ip', 'tc']) {
    try {
      await run([tool, '-V']);
    } catch (err) {
      return { ok: false, reason: `${tool} (iproute2) is missing: ${(err as Error).message}` };
    }
  }
  return { ok: true };
}
