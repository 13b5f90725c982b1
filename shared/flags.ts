/**
 * Minimal argv parsing for process entry points: `--key value`, `--key=value` and bare `--flag`
 * (true); kebab-case keys become camelCase. Positional arguments are returned under `_`.
 */

export function parseFlags(argv: readonly string[]): Record<string, string | boolean> {
  return parseArgs(argv).flags;
}

export function parseArgs(
  argv: readonly string[],
  /** Flags that never take a value, so `--json FILE` leaves FILE positional. */
  booleans: ReadonlySet<string> = new Set(),
): { flags: Record<string, string | boolean>; positional: string[] } {
  const flags: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const rawKey = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const key = rawKey.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    if (eq !== -1) flags[key] = arg.slice(eq + 1);
    else if (!booleans.has(key) && i + 1 < argv.length && !argv[i + 1]!.startsWith('--'))
      flags[key] = argv[++i]!;
    else flags[key] = true;
  }
  return { flags, positional };
}
