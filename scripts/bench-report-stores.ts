/**
 * The heavy-user report on SQLite and on PostgreSQL holding the same rows (`store migrate`), in one run
 * (issue 18's closing number): wall ms, this process's CPU ms and, on PostgreSQL, the server backend's CPU
 * ms (read from /proc/<backend pid>/stat: the pool has one connection), with the PostgreSQL/SQLite ratio;
 * then the PostgreSQL plans of the report's two queries (EXPLAIN ANALYZE: index scans, no seq scan).
 *
 *   npx tsc -p tsconfig.build.json && node dist/scripts/bench-report-stores.js --db /tmp/audit-10m.sqlite \
 *     --pg postgres://postgres@127.0.0.1:55432/schoolgate [--user heavy.user] [--runs 5]
 *
 * The server's CPU needs the server on this machine and this process allowed to read its /proc (root or
 * the same user); else "-". On a loaded machine CPU ms is the figure to compare, not wall ms.
 */
import os from 'node:os';
import { pgPool } from '../src/audit/postgres/connect.js';
import { openPgReportStoreOn, pgPageSql, PG_ROWS_WHERE } from '../src/audit/postgres/report-reads.js';
import { buildUserReport } from '../src/reports/builders.js';
import { openReadOnly, type ReportSource } from '../src/reports/source.js';
import { SqliteReads } from '../src/reports/sqlite-reads.js';
import { LocalClock, zonedTimeToEpoch } from '../src/reports/time.js';
import { treeUsage } from './bench/proc.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const DB = arg('db', '/tmp/audit-10m.sqlite');
const PG = arg('pg', '');
if (!PG) throw new Error('--pg postgres://… (the same rows as --db, moved there by store migrate) is needed');
const RUNS = Number(arg('runs', '5'));
const USER = arg('user', 'heavy.user');
const TZ = 'Europe/London';
const FROM = zonedTimeToEpoch(2025, 9, 1, TZ);
const TO = zonedTimeToEpoch(2026, 9, 1, TZ);
const puller = { by: 'bench', osUser: 'bench', caseRef: 'BENCH-1' };

const sqlite = openReadOnly(DB);
const pool = pgPool({ connectionString: PG, max: 1, timeoutMs: 600_000 });
const pgStore = openPgReportStoreOn(pool);

const source = (reads: ReportSource['reads']): ReportSource => ({
  reads,
  timeZone: TZ,
  now: Date.now(),
  clock: new LocalClock(TZ),
  categories: new Map(),
});

const backendPid = async () =>
  (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

interface Timing {
  first: number;
  wall: number;
  cpu: number;
  server: number | null;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function time(src: ReportSource, onPg: boolean): Promise<Timing> {
  const walls: number[] = [];
  const cpus: number[] = [];
  const servers: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const pid = onPg ? await backendPid() : 0;
    const s0 = onPg ? treeUsage(pid).cpuMs : null;
    const t = performance.now();
    const c = process.cpuUsage();
    await buildUserReport(src, USER, FROM, TO, puller);
    const used = process.cpuUsage(c);
    walls.push(performance.now() - t);
    cpus.push((used.user + used.system) / 1000);
    const s1 = onPg ? treeUsage(pid).cpuMs : null;
    if (onPg && (await backendPid()) !== pid) throw new Error('the pool changed connection during a run');
    if (s0 !== null && s1 !== null) servers.push(s1 - s0);
  }
  return {
    first: walls[0]!,
    wall: median(walls),
    cpu: median(cpus),
    server: servers.length === RUNS ? median(servers) : null,
  };
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
console.log(`load average before: ${load()} on ${os.cpus().length} CPUs`);
const count = sqlite.prepare('SELECT count(*) FROM audit_events').pluck().get() as number;
const userRows = sqlite.prepare('SELECT count(*) FROM audit_events WHERE username = ?').pluck().get(USER);
const lite = await time(source(new SqliteReads(sqlite)), false);
const post = await time(source(pgStore.reads), true);
console.log(
  `\nUser report for ${USER} (${userRows} rows of ${count}), one school year, ${RUNS} runs each, median ms ` +
    `(first = first run); cpu = this process; server = PostgreSQL backend; total = cpu + server\n`,
);
const n = (x: number | null) => (x === null ? '-' : x.toFixed(0)).padStart(8);
console.log(
  `${'store'.padEnd(12)} ${'first'.padStart(8)} ${'wall'.padStart(8)} ${'cpu'.padStart(8)} ${'server'.padStart(8)} ${'total'.padStart(8)}`,
);
for (const [name, r] of [
  ['sqlite', lite],
  ['postgresql', post],
] as const)
  console.log(
    `${name.padEnd(12)} ${n(r.first)} ${n(r.wall)} ${n(r.cpu)} ${n(r.server)} ${n(r.cpu + (r.server ?? 0))}`,
  );
const ratio = (a: number, b: number) => (a / b).toFixed(2).padStart(8);
console.log(
  `${'pg / sqlite'.padEnd(12)} ${ratio(post.first, lite.first)} ${ratio(post.wall, lite.wall)} ${ratio(post.cpu, lite.cpu)} ${''.padStart(8)} ${ratio(post.cpu + (post.server ?? 0), lite.cpu)}`,
);

// The plans of what the report asks PostgreSQL: the first page of the user's rows, and one page's neighbours.
const explain = async (title: string, text: string, values: unknown[]) => {
  const { rows } = await pool.query<{ 'QUERY PLAN': string }>({
    text: `EXPLAIN (ANALYZE, BUFFERS) ${text}`,
    values,
  });
  const plan = rows.map((r) => r['QUERY PLAN']);
  const seqScan = plan.some((l) => /Seq Scan on audit_events/.test(l));
  console.log(`\n${seqScan ? 'SEQ SCAN  ' : 'ok        '} ${title}`);
  for (const l of plan
    .filter((l) => /Scan|Append|Limit|Sort|Execution|Planning|Buffers/.test(l))
    .slice(0, 14))
    console.log(`    ${l}`);
  return seqScan;
};
const { rows: nodes } = await pool.query<{ node: string }>('SELECT node FROM chain_heads LIMIT 1');
const scans = [
  await explain('user rows, first page', pgPageSql(PG_ROWS_WHERE.user, 4), [
    USER,
    FROM,
    TO,
    -Number.MAX_SAFE_INTEGER,
    '',
    0,
  ]),
  await explain(
    'a page of rows’ chain neighbours (in the page’s days, as report-reads.ts asks first)',
    `SELECT seq, chain_hash FROM audit_events WHERE node = $1 AND seq = ANY($2::bigint[])
       AND time_ms >= $3 AND time_ms <= $4`,
    [nodes[0]?.node ?? '', Array.from({ length: 2000 }, (_, i) => 1 + i * 3), FROM, FROM + 7 * 86_400_000],
  ),
].filter(Boolean).length;
console.log(`\nload average after: ${load()}`);
sqlite.close();
await pgStore.close();
if (scans > 0) process.exitCode = 1;
