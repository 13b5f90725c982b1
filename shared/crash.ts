/**
 * Seeded crash points for fault-injection tests (docs/durability.md, "Testing it"): with
 * `FAASFLOW_CRASH_AT=<point>:<n>[,<point>:<n>…]` in its environment, a process kills itself
 * with SIGKILL — no cleanup, no flush, like a power cut of that process — the n-th time it
 * reaches `<point>`. Unset (every production run), `crashPoint` is one map lookup.
 *
 * Points: `worker:before-commit`, `worker:after-commit` (committed, triggers not sent),
 * `worker:after-send` (triggers handed to the transport), `worker:after-receive` (a trigger
 * batch recorded, its 202 not yet answered), `master:after-accept` (an invocation accepted and
 * persisted, its start triggers not sent), `worker:shard-run` (a batch of a sharded foreach
 * received, not yet run).
 */

const plan = parse(process.env['FAASFLOW_CRASH_AT']);
const hits = new Map<string, number>();

function parse(text: string | undefined): Map<string, number> {
  const m = new Map<string, number>();
  if (!text) return m;
  for (const part of text.split(',')) {
    const at = part.lastIndexOf(':');
    const n = Number(part.slice(at + 1));
    if (at > 0 && Number.isInteger(n) && n > 0) m.set(part.slice(0, at), n);
  }
  return m;
}

export function crashPoint(point: string): void {
  if (plan.size === 0) return;
  const n = plan.get(point);
  if (n === undefined) return;
  const seen = (hits.get(point) ?? 0) + 1;
  hits.set(point, seen);
  if (seen === n) {
    process.stderr.write(`faasflow: crash point ${point} reached (hit ${seen}); SIGKILL\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
