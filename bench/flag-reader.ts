/**
 * Reading a bench suite's command-line flags with every problem collected, not thrown: each
 * reader records what is wrong (naming the flag as typed and what would be valid) and returns
 * undefined, so a suite reports all its problems at once.
 */
export interface FlagReader {
  /** The flags as typed (`size-scale`), whatever case the CLI handed over. */
  readonly flags: Record<string, string | boolean>;
  readonly problems: string[];
  // Function-typed properties, not methods: the suites destructure them.
  readonly str: (key: string) => string | undefined;
  readonly int: (key: string, min: number) => number | undefined;
  /** A number in (0, 1]. */
  readonly fraction: (key: string) => number | undefined;
  /** A comma-separated list of known values, deduplicated. */
  readonly list: <T extends string>(key: string, valid: readonly T[]) => T[] | undefined;
}

export function flagReader(
  camelFlags: Record<string, string | boolean>,
  suite: string,
  known: readonly string[],
): FlagReader {
  // The CLI hands flags over camel-cased (`--size-scale` → sizeScale); name them as typed.
  const flags = Object.fromEntries(
    Object.entries(camelFlags).map(([k, v]) => [
      k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
      v,
    ]),
  );
  const problems: string[] = [];
  const unknown = Object.keys(flags).filter((k) => !known.includes(k));
  if (unknown.length > 0)
    problems.push(
      `unknown option(s) ${unknown.map((k) => `--${k}`).join(', ')}; bench ${suite} takes --${known.join(', --')}`,
    );
  const str = (key: string): string | undefined => {
    const v = flags[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') {
      problems.push(`--${key} needs a value`);
      return undefined;
    }
    return v;
  };
  return {
    flags,
    problems,
    str,
    int(key, min) {
      const v = str(key);
      if (v === undefined) return undefined;
      const n = Number(v);
      if (Number.isInteger(n) && n >= min) return n;
      problems.push(`--${key} must be an integer ≥ ${min}, got ${v}`);
      return undefined;
    },
    fraction(key) {
      const v = str(key);
      if (v === undefined) return undefined;
      const n = Number(v);
      if (Number.isFinite(n) && n > 0 && n <= 1) return n;
      problems.push(`--${key} must be a number in (0, 1], got ${v}`);
      return undefined;
    },
    list<T extends string>(key: string, valid: readonly T[]): T[] | undefined {
      const v = str(key);
      if (v === undefined) return undefined;
      const items = v.split(',').map((x) => x.trim());
      const bad = items.filter((x) => !(valid as readonly string[]).includes(x));
      if (bad.length > 0) {
        problems.push(`--${key}: ${bad.join(', ')} not known; valid: ${valid.join(', ')}`);
        return undefined;
      }
      return [...new Set(items)] as T[];
    },
  };
}
