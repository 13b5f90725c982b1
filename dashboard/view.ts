/** What every view gets and shares: its context, the error box, and a polling loop. */
import { ApiError } from './api.js';
import { h } from './dom.js';
import type { ClusterInfo } from './lib/types.js';

export interface ViewContext {
  /** Path segments after `#/`, decoded. */
  path: string[];
  params: URLSearchParams;
  /** Aborted when the route changes: stops the view's polling and fetches. */
  signal: AbortSignal;
  cluster: ClusterInfo | null;
  /** Sets the document's title (`<view> · <cluster>`). */
  title(view: string): void;
}

export type View = (ctx: ViewContext) => Promise<Node>;

export function errorBox(err: unknown): HTMLElement {
  if (err instanceof ApiError && err.status === 401)
    return h(
      'div',
      { class: 'error', role: 'alert' },
      h('strong', {}, 'Unauthorized. '),
      err.message,
      ' — set an API key with the key button in the header.',
    );
  const text =
    err instanceof ApiError
      ? `${err.code}: ${err.message}`
      : err instanceof Error
        ? err.message
        : String(err);
  return h('div', { class: 'error', role: 'alert' }, text);
}

/**
 * Calls `tick` every `everyMs` until `signal` aborts or `tick` returns false. A failing tick
 * shows its error through `onError` and the loop goes on (the master may be restarting).
 */
export function poll(
  signal: AbortSignal,
  everyMs: number,
  tick: () => Promise<boolean>,
  onError: (err: unknown) => void,
): void {
  const loop = async (): Promise<void> => {
    while (!signal.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, everyMs);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
      if (signal.aborted) return;
      try {
        if (!(await tick())) return;
      } catch (err) {
        if (!signal.aborted) onError(err);
      }
    }
  };
  void loop();
}

/** A status word as a coloured chip; the text says it, the colour only repeats it. */
export function statusChip(status: string): HTMLElement {
  return h('span', { class: `status status-${status}` }, status.replace('_', ' '));
}
