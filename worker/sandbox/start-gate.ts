/**
 * How many sandboxes a worker starts at once, and in which order (docs/guides/chains.md).
 *
 * Starting a child or a container is CPU work (a Node process boots, a container is created):
 * started all at once on a 2-core worker, eight of them each take four times as long, and the
 * one needed first is as late as the last. The gate lets `limit` starts run at a time (default:
 * the cores) and orders the rest: a start a run is waiting for goes first (first come, first
 * served), then prepares ahead by the time their node is predicted to start (earliest deadline
 * first). A run waiting for a prepare that has not begun starting promotes it to the front.
 *
 * Invariants: every `enter` is granted exactly once, and `leave` once per grant frees its slot;
 * a start already under way is never interrupted, so a run waits at most for the starts in
 * flight; `limit` 0 lets every start through at once (no gate).
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
  private active = 0;
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
    const entry: Entry = {
      demand: kind.demand,
      deadline: kind.demand ? 0 : (kind.deadline ?? Date.now()),
      seq: this.seq++,
      grant: () => {
        state = 'running';
        this.active++;
        resolve();
      },
    };
    if (this.limit === 0 || (this.active < this.limit && this.waiting.length === 0)) entry.grant();
    else this.waiting.push(entry);
    return {
      granted,
      promote: () => {
        if (state === 'waiting') entry.demand = true;
      },
      leave: () => {
        if (state === 'done') return;
        if (state === 'waiting') {
          const at = this.waiting.indexOf(entry);
          if (at >= 0) this.waiting.splice(at, 1);
        } else this.active--;
        state = 'done';
        this.next();
      },
    };
  }

  /** Starts under way and waiting (for stats and tests). */
  stats(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }

  private next(): void {
    while (this.waiting.length > 0 && (this.limit === 0 || this.active < this.limit)) {
      let best = 0;
      for (let i = 1; i < this.waiting.length; i++)
        if (before(this.waiting[i]!, this.waiting[best]!)) best = i;
      this.waiting.splice(best, 1)[0]!.grant();
    }
  }
}

/** Demand first in arrival order; then prepares by deadline, then arrival. */
function before(a: Entry, b: Entry): boolean {
  if (a.demand !== b.demand) return a.demand;
  if (!a.demand && a.deadline !== b.deadline) return a.deadline < b.deadline;
  return a.seq < b.seq;
}
