/**
 * What the list benchmarks (bench-lists.ts, bench-reload.ts) share: the list folders they run on, the
 * process's CPU time, a full GC, the table cells, and running one cell in a fresh child process.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { numberOption, stringOption } from './args.js';

/** UT1 (--ut1, else ../shared/data/ut1) and each --big folder that exists. */
function listSets(): { name: string; dir: string }[] {
  const ut1 = stringOption('ut1') ?? path.resolve(import.meta.dirname, '../../../shared/data/ut1');
  const args = process.argv.slice(2);
  const bigs = args.flatMap((a, i) => (a === '--big' ? [args[i + 1]!] : []));
  return [
    { name: 'UT1', dir: ut1 },
    ...bigs.map((dir) => ({ name: `synthetic ${path.basename(dir)}`, dir })),
  ].filter((s) => statSync(s.dir, { throwIfNoEntry: false })?.isDirectory());
}

export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with node --expose-gc');
  g();
  g();
}

/** The process's CPU time, every thread (getrusage RUSAGE_SELF). */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const loadAverage = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

const row = (cols: string[]): void => console.log(`| ${cols.join(' | ')} |`);

/**
 * `--child KIND DIR`: runs one cell and prints it as JSON (the parent reads it); otherwise main().
 */
export function childOrMain<T>(
  child: (kind: string, dir: string, lookups: number) => Promise<T>,
  main: () => void,
): void {
  const childAt = process.argv.indexOf('--child');
  if (childAt < 0) return main();
  const [kind, dir] = process.argv.slice(childAt + 1, childAt + 3) as [string, string];
  child(kind, dir, numberOption('lookups', 2_000_000)).then(
    (cell) => process.stdout.write(JSON.stringify(cell)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}

/** One cell in a fresh child process (so heap and RSS figures do not mix), parsed from its JSON. */
function runChild<T>(kind: string, dir: string, lookups: number): T {
  const out = execFileSync(
    process.execPath,
    [
      '--expose-gc',
      '--max-old-space-size=4096',
      process.argv[1]!,
      '--child',
      kind,
      dir,
      '--lookups',
      String(lookups),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  return JSON.parse(out) as T;
}

/**
 * The whole table: the Node version and load average, the head (two text columns, the rest numbers), one
 * row per list set and kind, each cell run in a child process, and the load average at the end.
 */
export function runTable<T>(
  columns: string[],
  kinds: string[],
  lookups: number,
  cells: (c: T) => string[],
): Map<string, Map<string, T>> {
  console.log(`Node ${process.version}; load average at start ${loadAverage()}\n`);
  row(columns);
  row(['---', '---', ...Array<string>(columns.length - 2).fill('---:')]);
  // By list set, then kind: for ratios printed under the table.
  const all = new Map<string, Map<string, T>>();
  for (const set of listSets()) {
    const bySet = new Map<string, T>();
    all.set(set.name, bySet);
    for (const kind of kinds) {
      const cell = runChild<T>(kind, set.dir, lookups);
      bySet.set(kind, cell);
      row([set.name, kind, ...cells(cell)]);
    }
  }
  console.log(`\nload average at end ${loadAverage()}`);
  return all;
}
