/**
 * Times `audit verify` and a heavy user's year report through the CLI, as a DSL would run them, on data
 * directories holding a big audit database (scripts/gen-audit-db.ts, then `case open BENCH-1 --subject
 * heavy.user`). Prints one line per directory, so two builds of schoolgate (before/after) can be compared:
 *
 *   npx tsc -p tsconfig.build.json
 *   node dist/scripts/bench-verify.js --cli /path/to/dist/src/cli/main.js --label after \
 *     --data /work/bigdb/d1m --data /work/bigdb/d10m [--runs 3] [--user heavy.user] [--case BENCH-1] \
 *     [--since-verified 10000]
 *
 * --since-verified N (a build that has it): after the full check, appends N rows through the real writer
 * (scripts/append-audit-rows.ts) and times `audit verify --since-verified`, which walks only those.
 *
 * CPU is the child's user+system time (GNU time, Debian package `time`): on a shared machine it is the robust
 * figure; wall time is what a person waits. The report is the median of --runs runs (the first run reads
 * the file into the page cache). The load average is printed with each line so a reader sees the noise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function args(name: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => {
    if (a === `--${name}` && process.argv[i + 1]) out.push(process.argv[i + 1]!);
  });
  return out;
}
const arg = (name: string, fallback: string): string => args(name)[0] ?? fallback;

const CLI = path.resolve(arg('cli', 'dist/src/cli/main.js'));
const LABEL = arg('label', path.basename(path.dirname(path.dirname(path.dirname(CLI)))));
const RUNS = Number(arg('runs', '3'));
const USER = arg('user', 'heavy.user');
const CASE = arg('case', 'BENCH-1');
const SINCE = Number(arg('since-verified', '0'));
const TIME = '/usr/bin/time';

interface Timed {
  wallS: number;
  cpuS: number;
  stdout: string;
}

/** Runs the CLI under GNU time; its last stderr line is "wall user sys". */
function timed(cliArgs: string[]): Timed {
  const r = spawnSync(TIME, ['-f', '%e %U %S', process.execPath, CLI, ...cliArgs], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const last = r.stderr.trimEnd().split('\n').pop() ?? '';
  const [wall, user, sys] = last.split(' ').map(Number);
  if (r.status !== 0 || wall === undefined || user === undefined || sys === undefined)
    throw new Error(`${cliArgs.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  return { wallS: wall, cpuS: user + sys, stdout: r.stdout };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

if (!existsSync(TIME)) {
  console.error(`${TIME} is missing (Debian package "time")`);
  process.exit(2);
}
const dirs = args('data');
if (dirs.length === 0) {
  console.error('give --data <dir> (one or more)');
  process.exit(2);
}

const cols = [
  'build',
  'rows',
  'verify wall s',
  'verify CPU s',
  'since-verified wall s',
  'since-verified CPU s',
  'report wall ms',
  'report CPU ms',
  'empty report CPU ms',
  'load 1m',
];
console.log(cols.join(' | '));
for (const dir of dirs) {
  const verify = timed(['audit', 'verify', '--data', dir]);
  const rows = /ok: (\d+) rows verified/.exec(verify.stdout)?.[1] ?? '?';
  let since: Timed | null = null;
  if (SINCE > 0) {
    const append = path.join(path.dirname(CLI), '../../scripts/append-audit-rows.js');
    const r = spawnSync(process.execPath, [
      append,
      '--db',
      path.join(dir, 'audit.sqlite'),
      '--rows',
      String(SINCE),
    ]);
    if (r.status !== 0) throw new Error(`appending rows failed:\n${r.stderr.toString()}`);
    since = timed(['audit', 'verify', '--data', dir, '--since-verified']);
  }
  const report = (from: string, to: string) =>
    timed([
      'report',
      'user',
      USER,
      '--data',
      dir,
      '--case',
      CASE,
      '--by',
      'Bench DSL',
      '--reason',
      'benchmark run',
      '--from',
      from,
      '--to',
      to,
    ]);
  const reports: Timed[] = [];
  for (let i = 0; i < RUNS; i++) reports.push(report('2025-09-01', '2026-09-01'));
  // The same command over a day with no rows: what starting Node and the CLI costs, in every figure above.
  const empty = report('2020-01-01', '2020-01-02');
  const tamper = /Tamper check +(.*)/.exec(reports[0]!.stdout)?.[1] ?? '?';
  console.log(
    [
      LABEL,
      rows,
      verify.wallS.toFixed(1),
      verify.cpuS.toFixed(1),
      since ? since.wallS.toFixed(1) : '-',
      since ? since.cpuS.toFixed(1) : '-',
      Math.round(median(reports.map((r) => r.wallS)) * 1000),
      Math.round(median(reports.map((r) => r.cpuS)) * 1000),
      Math.round(empty.cpuS * 1000),
      os.loadavg()[0]!.toFixed(1),
    ].join(' | ') + `   (${dir}; report: ${tamper})`,
  );
}
