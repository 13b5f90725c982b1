/**
 * How many sandboxes a worker starts at once, and in which order (docs/guides/chains.md).
 *
 * Starting a child or a container is CPU work (a Node process boots, a container is created):
 * started all at once on a 2-core worker, eight of them each take four times as long, and the
 * one needed first is as late as the last. The gate has two rows of `limit` slots (default: the
 * cores). Starts a run is waiting for take the runs' row, first come, first served; prepares ahead
 * take the prepares' row, by the time their node is predicted to start (earliest deadline first).
 * So a run's start never waits for a prepare, and a fan-out just after an invocation's source
 * gets its prepares going beside the source's own start. A run waiting for a prepare that has not
 * begun starting moves it to the runs' row, in its arrival order.
 *
 * Invariants: every `enter` is granted exactly once, and `leave` once per grant frees its slot;
 * at most `limit` starts of each row run at once; a start under way is never interrupted;
 * `limit` 0 lets every start through at once (no gate).
 */

/** One place at the gate. */
export interface StartTicket {
  /** Resolves when the start may begin. */
  readonly granted: Promise<void>;
  /** A run now waits for this start: it goes ahead of every prepare still waiting. */
  promote(): void;
  /** The start is over (up or failed): its slot goes to the next in line. Idempotent. */
  leave(): void;
}

interface Entry {
  demand: boolean;
  /** Epoch ms by which a prepare should be up (its node's predicted start). */
  deadline: number;
  seq: number;
  grant: () => void;
}

export class StartGate {
  /** Starts under way, by row. */
  private readonly active = { run: 0, prepare: 0 };
  private seq = 0;
  private readonly waiting: Entry[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 0)
      throw new RangeError(`start concurrency must be an integer ≥ 0, got ${limit}`);
  }

  /**
   * A place in line: `demand` for a run waiting now, else a prepare due by `deadline` (epoch ms;
   * absent: now).
   */
  enter(kind: { demand: true } | { demand: false; deadline?: number }): StartTicket {
    let resolve!: () => void;
    const granted = new Promise<void>((r) => (resolve = r));
    let state: 'waiting' | 'running' | 'done' = 'waiting';
    let row: 'run' | 'prepare' = kind.demand ? 'run' : 'prepare';
    const entry: Entry = {
      demand: kind.demand,
      deadline: kind.demand ? 0 : (kind.deadline ?? Date.now()),
      seq: this.seq++,
      grant: () => {
        state = 'running';
        row = entry.demand ? 'run' : 'prepare';
        this.active[row]++;
        resolve();
      },
    };
    this.waiting.push(entry);
    this.next();
    return {
      granted,
      promote: () => {
        if (state !== 'waiting' || entry.demand) return;
        entry.demand = true;
        this.next();
      },
      leave: () => {
        if (state === 'done') return;
        if (state === 'waiting') {
          const at = this.waiting.indexOf(entry);
          if (at >= 0) this.waiting.splice(at, 1);
        } else this.active[row]--;
        state = 'done';
        this.next();
      },
    };
  }

  /** Starts under way and waiting (for stats and tests). */
  stats(): { active: number; waiting: number } {
    return { active: this.active.run + this.active.prepare, waiting: this.waiting.length };
  }

  /** Grants the first waiting entry of each row while that row has a free slot. */
  private next(): void {
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.waiting.length; i++) {
        const e = this.waiting[i]!;
        const row = e.demand ? 'run' : 'prepare';
        if (this.limit !== 0 && this.active[row] >= this.limit) continue;
        if (best < 0 || before(e, this.waiting[best]!)) best = i;
      }
      if (best < 0) return;
      this.waiting.splice(best, 1)[0]!.grant();
    }
  }
}

/** Runs first in arrival order; then prepares by deadline, then arrival. */
function before(a: Entry, b: Entry): boolean {
  if (a.demand !== b.demand) return a.demand;
  if (!a.demand && a.deadline !== b.deadline) return a.deadline < b.deadline;
  return a.seq < b.seq;
}
