/** Number and time formatting the views share. Pure. */

/** `0.4 ms`, `12 ms`, `1.25 s`, `2 min 5 s`. */
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (v < 10) return `${v.toFixed(1)} ms`;
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(2)} s`;
  const m = Math.floor(v / 60_000);
  return `${m} min ${Math.round((v - m * 60_000) / 1000)} s`;
}

/** `512 B`, `4.3 KiB`, `20.0 MiB`. */
export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (v < 1024) return `${v} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(1)} ${units[i]}`;
}

/** An allocation: `2 cpu · 512 MB`. */
export function alloc(a: { cpu: number; memoryMb: number } | null | undefined): string {
  if (!a) return '—';
  return `${round(a.cpu, 2)} cpu · ${Math.round(a.memoryMb)} MB`;
}

export function round(v: number, digits: number): string {
  return String(Math.round(v * 10 ** digits) / 10 ** digits);
}

/** ISO time → local `HH:MM:SS` (and the date when it is not today). */
export function time(iso: string | null, now = new Date()): string {
  if (iso === null) return '—';
  const d = new Date(iso);
  const t = d.toLocaleTimeString('en-GB', { hour12: false });
  return d.toDateString() === now.toDateString() ? t : `${d.toISOString().slice(0, 10)} ${t}`;
}

/**
 * Colours of partition groups: Okabe–Ito's colour-blind-safe set, then Tableau's, as light
 * fills so dark text stays readable on every one.
 */
export const GROUP_COLOURS = [
  '#9ecae9',
  '#ffbf79',
  '#8cd17d',
  '#ff9d9a',
  '#d4a6c8',
  '#f1ce63',
  '#86bcb6',
  '#d7b5a6',
  '#b6992d',
  '#bab0ac',
];

export function groupColour(group: number): string {
  if (group < 0) return '#e5e5e5';
  return GROUP_COLOURS[group % GROUP_COLOURS.length]!;
}
