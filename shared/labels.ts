/**
 * Worker labels and what functions use (docs/guides/chains.md §placement near what a chain
 * needs). A worker carries labels — `zone=eu-1`, `near=db`, or a bare `gpu` — and a function may
 * declare `uses: [near=db, gpu]`; placement prefers, for each group, the workers that match the
 * most of what its functions use. Pure.
 *
 * A label is `key` or `key=value`; a selector has the same form and matches a worker whose label
 * `key` has that value (or that has label `key` at all, for a bare selector).
 */
export type Labels = Readonly<Record<string, string>>;

export const LABEL_KEY_PATTERN = '^[a-z][a-z0-9_.-]{0,62}$';
export const LABEL_VALUE_PATTERN = '^[A-Za-z0-9_.-]{1,63}$';
/** A label or a selector as text. */
export const SELECTOR_PATTERN = '^[a-z][a-z0-9_.-]{0,62}(=[A-Za-z0-9_.-]{1,63})?$';
const SELECTOR = new RegExp(SELECTOR_PATTERN);
/** Labels a worker may carry. */
export const MAX_LABELS = 64;
/** The value a bare label (`gpu`) carries. */
export const BARE_LABEL = 'true';

/** `zone=a,near=db,gpu` → labels; throws naming the first bad item and what would be valid. */
export function parseLabels(text: string, where = 'labels'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    if (!SELECTOR.test(item))
      throw new Error(
        `${where}: ${JSON.stringify(item)} is not a label; write key or key=value (key: lower-case letters, digits, _ . -, starting with a letter; value: letters, digits, _ . -), e.g. zone=eu-1,near=db,gpu`,
      );
    const at = item.indexOf('=');
    const key = at < 0 ? item : item.slice(0, at);
    if (key in out) throw new Error(`${where}: label ${key} is given twice`);
    out[key] = at < 0 ? BARE_LABEL : item.slice(at + 1);
  }
  if (Object.keys(out).length > MAX_LABELS)
    throw new Error(`${where}: ${Object.keys(out).length} labels; at most ${MAX_LABELS}`);
  return out;
}

export function isSelector(s: string): boolean {
  return SELECTOR.test(s);
}

export function matches(labels: Labels | undefined, selector: string): boolean {
  if (!labels) return false;
  const at = selector.indexOf('=');
  if (at < 0) return selector in labels;
  return labels[selector.slice(0, at)] === selector.slice(at + 1);
}

/** How many of `selectors` the worker's labels match. */
export function labelScore(labels: Labels | undefined, selectors: readonly string[]): number {
  let n = 0;
  for (const s of selectors) if (matches(labels, s)) n++;
  return n;
}

/**
 * Of `workers`, those matching the most of `selectors` — all of them when none matches any (a
 * preference, never a requirement: a group still runs when no worker is near what it uses).
 */
export function preferLabelled<W extends { labels?: Labels }>(
  workers: readonly W[],
  selectors: readonly string[] | undefined,
): readonly W[] {
  if (!selectors || selectors.length === 0) return workers;
  let best = 0;
  for (const w of workers) best = Math.max(best, labelScore(w.labels, selectors));
  if (best === 0) return workers;
  return workers.filter((w) => labelScore(w.labels, selectors) === best);
}
