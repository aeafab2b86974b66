/**
 * Times the investigation reports on a big database (made by scripts/gen-audit-db.ts) and checks every report
 * query's plan: no full scan of audit_events.
 *
 *   npx tsc -p tsconfig.build.json && node dist/scripts/bench-report.js --db /tmp/audit-10m.sqlite [--runs 5]
 *     [--pg postgres://…]   (the reports read PostgreSQL, holding the same rows: `store migrate`; the SQLite
 *                            file still gives the row counts and its query plans)
 *
 * Reports are built exactly as the CLI builds them (src/reports/builders.ts, read-only connection, keyset
 * pages), including the tamper check of the rows they cover, then rendered (text, HTML) and exported (CSV to
 * /dev/null). "first" is the first run in this process (the OS page cache may already hold the file);
 * "median" is over --runs runs.
 */
import { openSync } from 'node:fs';
import os from 'node:os';
import {
  buildDomainReport,
  buildFlaggedReport,
  buildUserReport,
  buildWeeklyReport,
  type BuiltReport,
} from '../src/reports/builders.js';
import { renderHtml } from '../src/reports/render-html.js';
import { renderText } from '../src/reports/render-text.js';
import { Output, writeReport } from '../src/reports/run.js';
import {
  ATTENTION_ROWS_SQL,
  FLAGGED_ROWS_SQL,
  HOST_ROWS_SQL,
  USER_ROWS_SQL,
  openReadOnly,
  type ReportSource,
} from '../src/reports/source.js';
import { LocalClock, zonedTimeToEpoch } from '../src/reports/time.js';
import { SqliteReads } from '../src/reports/sqlite-reads.js';
import { openPgReportStoreOn } from '../src/audit/postgres/report-reads.js';
import { pgPool } from '../src/audit/postgres/connect.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const DB = arg('db', '/tmp/audit-10m.sqlite');
const RUNS = Number(arg('runs', '5'));
const TZ = 'Europe/London';

const db = openReadOnly(DB);
const PG = arg('pg', '');
const pgStore = PG ? openPgReportStoreOn(pgPool({ connectionString: PG, max: 2, timeoutMs: 600_000 })) : null;
const src: ReportSource = {
  reads: pgStore ? pgStore.reads : new SqliteReads(db),
  timeZone: TZ,
  now: Date.now(),
  clock: new LocalClock(TZ),
  categories: new Map([
    ['gambling', { title: 'Gambling', flagged: true, alert: false }],
    ['adult', { title: 'Adult content', flagged: true, alert: false }],
    ['extremism', { title: 'Extremism', flagged: true, alert: true }],
    ['social', { title: 'Social networking', flagged: false, alert: false }],
    ['streaming', { title: 'Audio and video streaming', flagged: false, alert: false }],
  ]),
};
const puller = { by: 'bench', osUser: 'bench', caseRef: 'BENCH-1' };

// ---- query plans -----------------------------------------------------------------------------------------

const PLANS: [string, string, unknown[]][] = [
  ['user rows', USER_ROWS_SQL, ['u', 0, 1, 0, 0, 10]],
  ['host rows', HOST_ROWS_SQL, ['h', 0, 1, 0, 0, 10]],
  ['flagged rows', FLAGGED_ROWS_SQL, [0, 1, 0, 0, 10]],
  ['self-reports, continues', ATTENTION_ROWS_SQL, [0, 1, 0, 0, 10]],
  ['event by reference', 'SELECT rowid AS rid, * FROM audit_events WHERE id = ?', ['x']],
  ['row by seq (tamper check)', 'SELECT * FROM audit_events WHERE seq = ?', [1]],
  [
    'subdomains',
    'SELECT host FROM audit_hosts WHERE rev = ? OR (rev >= ? AND rev < ?) ORDER BY rev',
    ['a', 'a.', 'a/'],
  ],
  ['verify walk', 'SELECT * FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 5000', [0, 1]],
];
let scans = 0;
console.log('\nQuery plans (EXPLAIN QUERY PLAN):');
for (const [name, sql, params] of PLANS) {
  const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
    .map((r) => r.detail)
    .join('; ');
  const full = /\bSCAN audit_events\b(?! USING)/.test(plan);
  if (full) scans++;
  console.log(`  ${full ? 'FULL SCAN ' : 'ok        '} ${name.padEnd(26)} ${plan}`);
}

// ---- timings ---------------------------------------------------------------------------------------------

const count = db.prepare('SELECT count(*) FROM audit_events').pluck().get() as number;
const userCount = (u: string) =>
  db.prepare('SELECT count(*) FROM audit_events WHERE username = ?').pluck().get(u) as number;
const yearFrom = zonedTimeToEpoch(2025, 9, 1, TZ);
const yearTo = zonedTimeToEpoch(2026, 9, 1, TZ);
const weekFrom = zonedTimeToEpoch(2026, 3, 2, TZ);
const weekTo = zonedTimeToEpoch(2026, 3, 9, TZ);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Result {
  name: string;
  rows: number;
  first: number;
  median: number;
  /** CPU time of the median run: what the wall time would be on an idle machine with a warm page cache. */
  cpu: number;
  text: number;
  html: number;
  csv: number;
  htmlKb: number;
}

async function bench(name: string, rows: number, build: () => Promise<BuiltReport>): Promise<Result> {
  const times: number[] = [];
  const cpus: number[] = [];
  let built!: BuiltReport;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    built = await build();
    const used = process.cpuUsage(c);
    times.push(performance.now() - t);
    cpus.push((used.user + used.system) / 1000);
  }
  let t = performance.now();
  renderText(built.doc);
  const text = performance.now() - t;
  t = performance.now();
  const page = renderHtml(built.doc);
  const html = performance.now() - t;
  t = performance.now();
  const out = new Output(undefined, openSync('/dev/null', 'w'));
  await writeReport(built, 'csv', src, out);
  out.close();
  const csv = performance.now() - t;
  return {
    name,
    rows,
    first: times[0]!,
    median: median(times),
    cpu: median(cpus),
    text,
    html,
    csv,
    htmlKb: Math.round(page.length / 1024),
  };
}

const typical = 'pupil0100';
const staff = 'staff010';
const heavy = 'heavy.user';
const results: Result[] = [];
for (const [name, rows, build] of [
  [
    `user ${typical}, 1 year`,
    userCount(typical),
    () => buildUserReport(src, typical, yearFrom, yearTo, puller),
  ],
  [`user ${staff}, 1 year`, userCount(staff), () => buildUserReport(src, staff, yearFrom, yearTo, puller)],
  [`user ${heavy}, 1 year`, userCount(heavy), () => buildUserReport(src, heavy, yearFrom, yearTo, puller)],
  ['domain bet0.example, 1 year', 0, () => buildDomainReport(src, 'bet0.example', yearFrom, yearTo, puller)],
  ['flagged, one term week', 0, () => buildFlaggedReport(src, weekFrom, weekTo, puller)],
  ['weekly review, one term week', 0, () => buildWeeklyReport(src, weekFrom, weekTo, puller)],
] as [string, number, () => Promise<BuiltReport>][])
  results.push(await bench(name, rows, build));

const ms = (n: number) => n.toFixed(1).padStart(8);
console.log(
  `\nDatabase: ${pgStore ? `PostgreSQL (same rows as ${DB})` : DB}, ${count} rows. ${RUNS} runs each; times in ms; load average ${os.loadavg()[0]!.toFixed(1)} ` +
    `on ${os.cpus().length} CPUs (cpu = CPU time of the median run).\n`,
);
console.log(
  `${'report'.padEnd(34)} ${'rows'.padStart(7)} ${'first'.padStart(8)} ${'median'.padStart(8)} ${'cpu'.padStart(8)} ${'text'.padStart(8)} ${'html'.padStart(8)} ${'csv'.padStart(8)} ${'html KB'.padStart(8)}`,
);
for (const r of results)
  console.log(
    `${r.name.padEnd(34)} ${String(r.rows || '').padStart(7)} ${ms(r.first)} ${ms(r.median)} ${ms(r.cpu)} ${ms(r.text)} ${ms(r.html)} ${ms(r.csv)} ${String(r.htmlKb).padStart(8)}`,
  );
db.close();
await pgStore?.close();
if (scans > 0) {
  console.error(`\n${scans} report queries do a full scan of audit_events`);
  process.exitCode = 1;
}
