/**
 * How busy this worker is, for the master's re-sharding loop (docs/guides/sharding.md §control
 * loop): CPU time of this process and every process under it (its process sandboxes, their
 * threads included) over wall time × the cores the worker offers. Read from `/proc` (utime +
 * stime of each live descendant, cutime + cstime of the root for those already reaped); a noisy
 * neighbour inside the worker shows up here whatever the routing table sends it. Containers are
 * not descendants and are not counted. Undefined where `/proc` is not readable (not Linux).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second (`getconf CLK_TCK`; 100 on every Linux build Node runs on). */
const TICKS_PER_SECOND = 100;

/** CPU ms of `pid` and its live descendants; `withReaped` adds what its reaped children used. */
export function treeCpuMs(pid: number, withReaped = true, depth = 0): number | undefined {
  const stat = statFields(pid);
  if (stat === undefined) return undefined;
  // Fields after the command: state is [0]; utime [11], stime [12], cutime [13], cstime [14].
  let ticks = Number(stat[11]) + Number(stat[12]);
  if (withReaped) ticks += Number(stat[13]) + Number(stat[14]);
  let ms = (ticks * 1000) / TICKS_PER_SECOND;
  if (depth < 8) for (const child of childrenOf(pid)) ms += treeCpuMs(child, false, depth + 1) ?? 0;
  return ms;
}

function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command may hold spaces and parentheses: the fields start after the last ')'.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) for (const c of text.split(' ')) out.push(Number(c));
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return out;
}

/** Utilisation between successive `sample()` calls, as a share of `cores`. */
export class TreeCpuSampler {
  private last: { cpuMs: number; at: number } | undefined;

  constructor(
    private readonly cores: number,
    private readonly pid: number = process.pid,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Share of `cores` used since the last call; undefined on the first call or without /proc. */
  sample(): number | undefined {
    const cpuMs = treeCpuMs(this.pid);
    const at = this.now();
    if (cpuMs === undefined) return undefined;
    const prev = this.last;
    this.last = { cpuMs, at };
    if (prev === undefined || at <= prev.at) return undefined;
    // A descendant that ended between samples takes its time with it: never below 0.
    const used = Math.max(0, cpuMs - prev.cpuMs);
    return Math.round((used / ((at - prev.at) * this.cores)) * 1000) / 1000;
  }
}
