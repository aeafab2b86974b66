/**
 * Builds a large audit database with realistic shapes, for scripts/bench-report.ts. Never commit its output.
 *
 *   npx tsc -p tsconfig.build.json && node dist/scripts/gen-audit-db.js --rows 10000000 --out /tmp/audit-10m.sqlite
 *
 * Shapes: a school year (1 Sep – 20 Jul, weekdays, minus half terms and holidays) in Europe/London; thousands of
 * users (pupils and staff); a school day's rhythm (arrivals, lessons, break, lunch, a little after school);
 * hosts drawn from a long-tailed popularity curve; some social/streaming (blocked for pupils, warned for staff),
 * a few flagged attempts (gambling, adult, extremism), search terms on inspected search traffic, self-reports
 * and Continue presses; one deliberately heavy user (`heavy.user`, ~20x the typical rows).
 * Rows are written in time order with the real chain (seq, chain_hash, outcome_hash) and the schema the writer
 * creates (migrations), by direct bulk insert in big transactions with synchronous=OFF and no journal — for
 * generation only; the file is switched to WAL at the end like the proxy's.
 */
import { existsSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import {
  formatHead,
  outcomeHash,
  registerChainFunctions,
  reverseHost,
  rowHash,
  type ChainedFields,
} from '../src/audit/chain.js';
import { newEventId } from '../src/audit/event-id.js';
import { registerLedgerFunctions } from '../src/audit/ledger.js';
import { migrate } from '../src/audit/migrations.js';
import { zonedTimeToEpoch } from '../src/reports/time.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const ROWS = Number(arg('rows', '1000000'));
const OUT = arg('out', '/tmp/audit-gen.sqlite');
const PUPILS = Number(arg('pupils', '2500'));
const STAFF = Number(arg('staff', '300'));
const SEED = Number(arg('seed', '42'));
const TZ = 'Europe/London';

// Deterministic PRNG (mulberry32), so two runs give the same database.
let state = SEED >>> 0;
function rand(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;

// ---- the school year -------------------------------------------------------------------------------------

const HOLIDAYS: [string, string][] = [
  ['2025-10-27', '2025-10-31'],
  ['2025-12-22', '2026-01-02'],
  ['2026-02-16', '2026-02-20'],
  ['2026-03-30', '2026-04-10'],
  ['2026-05-25', '2026-05-29'],
];
function schoolDays(): { y: number; m: number; d: number }[] {
  const out: { y: number; m: number; d: number }[] = [];
  for (let t = Date.UTC(2025, 8, 1); t <= Date.UTC(2026, 6, 20); t += 86_400_000) {
    const date = new Date(t);
    const dow = date.getUTCDay();
    const key = date.toISOString().slice(0, 10);
    if (dow === 0 || dow === 6) continue;
    if (HOLIDAYS.some(([a, b]) => key >= a && key <= b)) continue;
    out.push({ y: date.getUTCFullYear(), m: date.getUTCMonth() + 1, d: date.getUTCDate() });
  }
  return out;
}

/** Minutes after midnight, weighted: lessons 09:00–15:15, busier at break and lunch, light before/after. */
const RHYTHM: [number, number, number][] = [
  // [from minute, to minute, weight]
  [7 * 60 + 30, 8 * 60 + 45, 3],
  [8 * 60 + 45, 10 * 60 + 40, 20],
  [10 * 60 + 40, 11 * 60, 12],
  [11 * 60, 12 * 60 + 20, 18],
  [12 * 60 + 20, 13 * 60 + 20, 16],
  [13 * 60 + 20, 15 * 60 + 15, 22],
  [15 * 60 + 15, 17 * 60 + 30, 6],
  [17 * 60 + 30, 21 * 60, 3],
];
const RHYTHM_TOTAL = RHYTHM.reduce((s, r) => s + r[2], 0);
function minuteOfDay(): number {
  let x = rand() * RHYTHM_TOTAL;
  for (const [a, b, w] of RHYTHM) {
    if (x < w) return a + rand() * (b - a);
    x -= w;
  }
  return 12 * 60;
}

// ---- hosts -----------------------------------------------------------------------------------------------

interface HostDef {
  host: string;
  categories: string[];
  flagged: boolean;
}
const ORDINARY = [
  'www.bbc.co.uk',
  'www.google.com',
  'classroom.google.com',
  'docs.google.com',
  'login.microsoftonline.com',
  'www.office.com',
  'teams.microsoft.com',
  'www.wikipedia.org',
  'en.wikipedia.org',
  'www.bing.com',
  'duckduckgo.com',
  'www.senecalearning.com',
  'www.mathsisfun.com',
  'www.khanacademy.org',
  'quizlet.com',
  'kahoot.it',
  'www.gov.uk',
  'fonts.gstatic.com',
  'www.gstatic.com',
  'ajax.googleapis.com',
];
const hosts: HostDef[] = [];
for (const h of ORDINARY) hosts.push({ host: h, categories: [], flagged: false });
for (let i = 0; i < 3000; i++)
  hosts.push({
    host: `site${i}.${pick(['co.uk', 'com', 'org', 'ac.uk', 'net'])}`,
    categories: [],
    flagged: false,
  });
for (const h of ['www.youtube.com', 'i.ytimg.com', 'www.tiktok.com', 'www.instagram.com', 'www.facebook.com'])
  hosts.push({
    host: h,
    categories: [h.includes('yt') || h.includes('youtube') ? 'streaming' : 'social'],
    flagged: false,
  });
const FLAGGED: HostDef[] = [
  ...Array.from({ length: 40 }, (_, i) => ({
    host: `bet${i}.example`,
    categories: ['gambling'],
    flagged: true,
  })),
  ...Array.from({ length: 60 }, (_, i) => ({
    host: `adult${i}.example`,
    categories: ['adult'],
    flagged: true,
  })),
  ...Array.from({ length: 10 }, (_, i) => ({
    host: `extreme${i}.example`,
    categories: ['extremism'],
    flagged: true,
  })),
];
/** Long tail: index ~ floor(n * u^3) puts most traffic on the first few hosts. */
function ordinaryHost(): HostDef {
  return hosts[Math.floor(hosts.length * rand() ** 3)]!;
}
const TERMS = [
  'photosynthesis',
  'world war 2 causes',
  'pythagoras',
  'macbeth summary',
  'french verbs',
  'minecraft',
  'how to revise',
  'volcano diagram',
  'football scores',
  'cheap trainers',
];

// ---- generation ------------------------------------------------------------------------------------------

function main(): void {
  if (existsSync(OUT)) rmSync(OUT);
  for (const ext of ['-wal', '-shm']) if (existsSync(OUT + ext)) rmSync(OUT + ext);
  const db = new Database(OUT);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -400000');
  // The migrations' ledger and chain triggers call these (as on the proxy's own connection).
  registerChainFunctions(db);
  registerLedgerFunctions(db);
  migrate(db, OUT);
  // Bulk load without the secondary indexes, then build them once (a sort each, instead of a random B-tree
  // insert per row per index). The UNIQUE index on id stays: it is append-only (UUIDv7 is time-ordered).
  const indexes = db
    .prepare(
      `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events' AND sql IS NOT NULL`,
    )
    .all() as { name: string; sql: string }[];
  for (const ix of indexes) db.exec(`DROP INDEX ${ix.name}`);
  const insert = db.prepare(`INSERT INTO audit_events
    (id, time_ms, username, profile, client_ip, device, method, scheme, host, port, path, categories, action, rule,
     reason, flagged, status, kind, search_term, search_engine, rewrites, note, seq, chain_hash, outcome_hash,
     bytes_in, bytes_out, duration_ms, completed_ms)
    VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const addHost = db.prepare(`INSERT OR IGNORE INTO audit_hosts (rev, host) VALUES (?, ?)`);
  for (const h of [...hosts, ...FLAGGED]) addHost.run(reverseHost(h.host), h.host);

  const users: { name: string; profile: string; weight: number; ip: string }[] = [];
  for (let i = 0; i < PUPILS; i++)
    users.push({
      name: `pupil${String(i).padStart(4, '0')}`,
      profile: 'pupil',
      weight: 0.3 + rand() * 1.4,
      ip: `10.1.${i >> 8}.${i & 255}`,
    });
  for (let i = 0; i < STAFF; i++)
    users.push({
      name: `staff${String(i).padStart(3, '0')}`,
      profile: 'staff',
      weight: 0.8 + rand() * 1.6,
      ip: `10.2.${i >> 8}.${i & 255}`,
    });
  users.push({ name: 'heavy.user', profile: 'pupil', weight: 20, ip: '10.3.0.1' });
  // A few pupils are the ones with most flagged attempts.
  const risky = new Set(
    users
      .slice(0, PUPILS)
      .filter(() => rand() < 0.01)
      .map((u) => u.name),
  );
  risky.add('heavy.user');
  const cumulative: number[] = [];
  let total = 0;
  for (const u of users) cumulative.push((total += u.weight));
  const pickUser = () => {
    const x = rand() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return users[lo]!;
  };

  const days = schoolDays();
  const perDay = Math.ceil(ROWS / days.length);
  let seq = 0;
  let prev = '0'.repeat(64);
  let written = 0;
  const started = performance.now();
  const tx = db.transaction((batch: { t: number; u: (typeof users)[number] }[]) => {
    for (const { t, u } of batch) {
      if (written >= ROWS) return;
      const r = rand();
      let h: HostDef;
      let action = 'allow';
      let status = 200;
      let searchTerm: string | null = null;
      let engine: string | null = null;
      let note: string | null = null;
      let reason = 'default';
      let scheme = 'https';
      let path: string | null = null;
      let kind = 'tunnel';
      let method = 'CONNECT';
      const flaggedChance = risky.has(u.name) ? 0.01 : 0.0004;
      if (r < flaggedChance) {
        h = pick(FLAGGED);
        action = u.profile === 'staff' && rand() < 0.1 ? 'allow' : 'block';
        status = action === 'block' ? 403 : 200;
        reason = 'category';
      } else if (r < 0.06) {
        h = pick(hosts.slice(-5));
        if (u.profile === 'pupil') {
          action = 'block';
          status = 403;
        } else {
          action = pick(['warn', 'continue', 'continued', 'continued', 'continued']);
        }
        reason = 'category';
      } else if (r < 0.09) {
        h = hosts[pick([1, 9, 10])]!;
        kind = 'inspected';
        method = 'GET';
        searchTerm = pick(TERMS);
        engine = h.host.includes('bing') ? 'bing' : h.host.includes('duck') ? 'duckduckgo' : 'google';
        path = `/search?q=${encodeURIComponent(searchTerm)}`;
      } else {
        h = ordinaryHost();
        if (rand() < 0.3) {
          kind = 'inspected';
          method = 'GET';
          path = `/page/${Math.floor(rand() * 1000)}`;
        }
      }
      if (action === 'block' && h.flagged && rand() < 0.05) {
        action = 'self-report';
        note = 'I clicked a link by accident';
        status = 200;
        method = 'POST';
        scheme = 'http';
        path = '/.schoolgate/report';
        kind = 'request';
      }
      seq++;
      const row: ChainedFields = {
        seq,
        id: newEventId(t),
        time_ms: t,
        username: u.name,
        profile: u.profile,
        client_ip: u.ip,
        device: null,
        method,
        scheme,
        host: h.host,
        port: scheme === 'https' ? 443 : 80,
        path,
        categories: JSON.stringify(h.categories),
        action,
        rule: h.categories.length ? `category:${h.categories[0]}:${h.host}` : 'default',
        reason,
        flagged: h.flagged ? 1 : 0,
        kind,
        search_term: searchTerm,
        search_engine: engine,
        rewrites: searchTerm ? '["safe=active"]' : null,
        note,
      };
      const chain = rowHash(prev, row);
      const outcome = {
        status,
        bytes_in: 400 + Math.floor(rand() * 2000),
        bytes_out: action === 'block' ? 3000 : Math.floor(rand() * 200_000),
        duration_ms: Math.floor(rand() * 2000),
        completed_ms: t + 2000,
      };
      insert.run(
        row.id,
        t,
        row.username,
        row.profile,
        row.client_ip,
        method,
        scheme,
        row.host,
        row.port,
        path,
        row.categories,
        action,
        row.rule,
        reason,
        row.flagged,
        status,
        kind,
        searchTerm,
        engine,
        row.rewrites,
        note,
        seq,
        chain,
        outcomeHash(chain, outcome),
        outcome.bytes_in,
        outcome.bytes_out,
        outcome.duration_ms,
        outcome.completed_ms,
      );
      prev = chain;
      written++;
    }
  });
  for (const day of days) {
    if (written >= ROWS) break;
    const midnight = zonedTimeToEpoch(day.y, day.m, day.d, TZ);
    const batch = Array.from({ length: perDay }, () => ({
      t: midnight + Math.floor(minuteOfDay() * 60_000),
      u: pickUser(),
    })).sort((a, b) => a.t - b.t);
    tx(batch);
    if (day.d === 1 || day.d === 15)
      process.stderr.write(
        `  ${day.y}-${String(day.m).padStart(2, '0')}-${String(day.d).padStart(2, '0')}: ${written} rows, ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
      );
  }
  const indexStarted = performance.now();
  for (const ix of indexes) db.exec(ix.sql);
  process.stderr.write(`  indexes built in ${((performance.now() - indexStarted) / 1000).toFixed(1)} s\n`);
  db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('chain_head', ?)`).run(
    formatHead({ seq, hash: prev }),
  );
  db.pragma('journal_mode = WAL');
  db.close();
  const secs = (performance.now() - started) / 1000;
  console.log(
    `wrote ${written} rows for ${users.length} users over ${days.length} school days to ${OUT} in ${secs.toFixed(1)} s ` +
      `(${Math.round(written / secs)} rows/s)`,
  );
}

main();
