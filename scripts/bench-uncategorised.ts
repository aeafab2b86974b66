/**
 * Times `lists uncategorised`'s query on a big audit database (made by scripts/gen-audit-db.ts) and prints
 * its plan: a range of the partial covering index audit_events_uncategorised, never a scan of the table.
 *
 *   npx tsc -p tsconfig.build.json && node dist/scripts/bench-uncategorised.js --db /tmp/audit-10m.sqlite
 *
 * Periods end at the newest row: the last 7 and 30 days, every profile and pupils only, top 50. "first" is
 * the first run in this process (the page cache may already hold the file); "median" is over --runs runs.
 */
import Database from 'better-sqlite3';
import { UNCATEGORISED_SQL } from '../src/reports/build-uncategorised.js';
import { openReadOnly } from '../src/reports/source.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const DB = arg('db', '/tmp/audit-10m.sqlite');
const RUNS = Number(arg('runs', '5'));
const DAY = 86_400_000;

const db: Database.Database = openReadOnly(DB);
const rows = db.prepare('SELECT COUNT(*) FROM audit_events').pluck().get() as number;
const newest = db.prepare('SELECT MAX(time_ms) FROM audit_events').pluck().get() as number;
const stmt = db.prepare(UNCATEGORISED_SQL);
const plan = (
  db.prepare(`EXPLAIN QUERY PLAN ${UNCATEGORISED_SQL}`).all(0, 1, null, null, 50) as { detail: string }[]
)
  .map((r) => r.detail)
  .join('; ');
console.log(`${DB}: ${rows} rows\nplan: ${plan}`);
if (/\bSCAN audit_events\b/.test(plan)) throw new Error('the query scans audit_events');

for (const days of [7, 30])
  for (const profile of [null, 'pupil']) {
    const from = newest - days * DAY;
    const inRange = db
      .prepare(
        `SELECT COUNT(*) FROM audit_events WHERE categories = '[]' AND selftest_run IS NULL
           AND action IN ('allow', 'warn', 'block', 'continue', 'continued', 'would-block', 'would-warn')
           AND time_ms >= ? AND time_ms <= ?`,
      )
      .pluck()
      .get(from, newest) as number;
    const times: number[] = [];
    let hosts = 0;
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      hosts = (stmt.all(from, newest + 1, profile, profile, 50) as unknown[]).length;
      times.push(performance.now() - t0);
    }
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `${days}d ${profile ?? 'every profile'}: ${inRange} uncategorised rows in the period, ${hosts} hosts; ` +
        `first ${times[0]!.toFixed(0)} ms, median ${sorted[Math.floor(RUNS / 2)]!.toFixed(0)} ms`,
    );
  }
db.close();
