/** What every view gets and shares: its context, the error box, and a polling loop. */
import { ApiError, apiKey } from './api.js';
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

/**
 * The state of a page the API refused for want of a key (401): says so, shows no data, and
 * offers the header's key button. With a key set, the key was refused (unknown or revoked).
 */
export function authNeeded(err: ApiError): HTMLElement {
  const hasKey = apiKey() !== null;
  return h(
    'div',
    { class: 'auth-needed', role: 'alert', id: 'auth-needed' },
    h('h1', {}, hasKey ? 'API key refused' : 'API key needed'),
    h(
      'p',
      {},
      hasKey
        ? 'The API refused the key this browser holds (unknown or revoked).'
        : 'This cluster’s API requires a key for its data (auth is on).',
    ),
    h('p', { class: 'reason' }, err.message),
    h(
      'p',
      {},
      'A tenant key shows that tenant’s workflows and invocations; the cluster admin key shows every tenant’s. ',
      'The key stays in this browser (localStorage).',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'key',
        id: 'auth-set-key',
        onclick: () => document.getElementById('api-key')?.click(),
      },
      hasKey ? 'Change API key' : 'Set API key',
    ),
  );
}

export function errorBox(err: unknown): HTMLElement {
  if (err instanceof ApiError && err.status === 401) return authNeeded(err);
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
