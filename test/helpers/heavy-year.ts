/**
 * A heavy user's school year, seeded (the same database every run), written through the real audit store so
 * every row is chained as the proxy chains it. Shapes what the report layout must survive: thousands of
 * ordinary (uncategorised) requests beside a handful of flagged ones in a dozen categories, Continue and
 * self-report rows as the proxy writes them (no category of their own, a reference to the warn or block
 * row), self-reports that match a block and ones that do not, failed logins typed with the heavy user's
 * name, a keyword alert on a search, and a review week in which pupils and a member of staff tried sites in
 * every flagged category.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { upsertAlert } from '../../src/audit/alerts-table.js';
import { openSqliteAuditStore, type AuditEvent } from '../../src/audit/index.js';
import { openWritableDatabase } from '../../src/audit/open-database.js';
import { zonedTimeToEpoch } from '../../src/reports/time.js';
import { tempDir } from './schoolgate.js';

export const HEAVY = 'heavy.user';
export const STAFF = 'k.jones';
export const PUPIL = 'a.pupil';
const TZ = 'Europe/London';

/** Category name → [title, flagged]. Twelve flagged ones: more than an A4 page has room for as columns. */
export const YEAR_CATEGORIES: Record<string, [string, boolean]> = {
  social: ['Social networking', false],
  streaming: ['Audio and video streaming', false],
  games: ['Online games', false],
  gambling: ['Gambling', true],
  adult: ['Adult content', true],
  selfharm: ['Self-harm', true],
  extremism: ['Extremism', true],
  weapons: ['Weapons', true],
  drugs: ['Illegal drugs', true],
  violence: ['Violence', true],
  dating: ['Dating', true],
  hacking: ['Hacking', true],
  proxies: ['Proxies and filter avoidance', true],
  chat: ['Chat rooms', true],
  hate: ['Hate speech', true],
};
const FLAGGED_CATS = Object.keys(YEAR_CATEGORIES).filter((c) => YEAR_CATEGORIES[c]![1]);

export interface HeavyYear {
  dir: string;
  dataDir: string;
  config: string;
  /** The heavy user's own rows (what the report's total must be). */
  rows: number;
  searches: number;
  continues: number;
  /** Failed logins claiming the heavy user's name (rows of no user). */
  failedLogins: number;
  selfReports: { matched: number; unmatched: number };
  /** The invented self-report's site, never blocked for anyone. */
  inventedSite: string;
  /** The review week, as --since/--to dates. */
  week: { from: string; to: string };
}

/** mulberry32: small, seeded, good enough for test data. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function writeCategories(dir: string): string {
  const meta: string[] = [];
  for (const [name, [title, flagged]] of Object.entries(YEAR_CATEGORIES)) {
    mkdirSync(path.join(dir, name), { recursive: true });
    writeFileSync(path.join(dir, name, 'domains'), `# fixture\n${name}.example\n`);
    meta.push(
      `${name}:\n  title: ${title}\n  description: fixture\n  flagged: ${flagged}\n  alert: ${name === 'selfharm'}`,
    );
  }
  writeFileSync(path.join(dir, 'categories.yaml'), `${meta.join('\n')}\n`);
  return dir;
}

/** `perDay`: the heavy user's ordinary requests per school day (about 190 days). */
export async function buildHeavyYear(perDay = 16, seed = 7): Promise<HeavyYear> {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;

  const dir = tempDir('sg-heavy-year-');
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  const categoriesDir = writeCategories(path.join(dir, 'categories'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    `dataDir: ${dataDir}\ncategoriesDir: ${categoriesDir}\ntimeZone: ${TZ}\n` +
      `reports:\n  allowedOsUsers: [${JSON.stringify(os.userInfo().username)}]\n`,
  );

  const events: AuditEvent[] = [];
  const base = (user: string | null, profile: string | null, ip: string, time: number): AuditEvent => ({
    id: uuid(),
    time,
    user,
    profile,
    clientIp: ip,
    device: null,
    method: 'CONNECT',
    scheme: 'https',
    host: `site${Math.floor(rand() ** 3 * 200)}.example.org`,
    port: 443,
    path: null,
    categories: [],
    action: 'allow',
    rule: 'default',
    reason: 'default',
    flagged: false,
    status: 200,
    kind: 'tunnel',
  });
  const heavy = (time: number) => base(HEAVY, 'pupil', '10.3.0.1', time);
  const block = (e: AuditEvent, category: string): AuditEvent => ({
    ...e,
    host: `www.${category}.example`,
    categories: [category],
    action: 'block',
    rule: `category:${category}`,
    reason: 'category',
    flagged: YEAR_CATEGORIES[category]![1],
    status: 403,
  });
  const action = (e: AuditEvent, kind: 'report' | 'continue', reference: string): AuditEvent => ({
    ...e,
    method: 'POST',
    scheme: 'http',
    port: 80,
    path: `/.schoolgate/${kind}`,
    kind: 'request',
    action: kind === 'report' ? 'self-report' : 'continue',
    reason: `${kind === 'report' ? 'self-report' : 'continue'}:${reference}`,
    rule: null,
    status: kind === 'report' ? 200 : 303,
  });
  const terms = ['photosynthesis', 'macbeth summary', 'french verbs', 'minecraft', 'volcano diagram'];
  const counts = { rows: 0, searches: 0, continues: 0, failed: 0, matched: 0, unmatched: 0 };

  for (let t = Date.UTC(2025, 8, 1); t <= Date.UTC(2026, 6, 17); t += 86_400_000) {
    const d = new Date(t);
    if (d.getUTCDay() === 0 || d.getUTCDay() === 6) continue;
    const day = zonedTimeToEpoch(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), TZ);
    const times = Array.from({ length: perDay }, () => day + (8 * 60 + rand() * 7 * 60) * 60_000).sort();
    for (const time of times) {
      const r = rand();
      let e = heavy(time);
      if (r < 0.1) {
        const term = pick(terms);
        e = {
          ...e,
          host: 'www.google.com',
          method: 'GET',
          path: `/search?q=${encodeURIComponent(term)}`,
          kind: 'inspected',
          searchTerm: term,
          searchEngine: 'google',
        };
        counts.searches++;
      } else if (r < 0.16) e = block(e, pick(['social', 'streaming']));
      else if (r < 0.185) e = block(e, pick(FLAGGED_CATS));
      events.push(e);
      counts.rows++;
      // Now and then: a warning continued (warn row, the Continue naming it, a visit under it).
      if (r > 0.995) {
        const warn = { ...heavy(time + 1000), host: 'www.games.example', categories: ['games'] };
        events.push({ ...warn, action: 'warn', rule: 'category:games', reason: 'category' });
        events.push(action({ ...heavy(time + 5000), host: warn.host }, 'continue', warn.id));
        events.push({ ...warn, id: uuid(), time: time + 6000, action: 'continued', reason: 'category' });
        counts.rows += 3;
        counts.continues++;
      }
      // A pupil who reached a flagged site by accident reports it, naming the block.
      if (e.flagged && rand() < 0.15) {
        events.push(action({ ...heavy(time + 20_000), host: e.host }, 'report', e.id));
        counts.rows++;
        counts.matched++;
      }
    }
  }
  // A self-report with an invented reference, from a site never blocked for anyone.
  const invented = 'never-blocked.example';
  events.push({
    ...action({ ...heavy(Date.UTC(2026, 2, 4, 10)), host: invented }, 'report', uuid()),
    note: 'I saw something bad',
  });
  counts.rows++;
  counts.unmatched++;
  // Failed logins typed with the heavy user's name from another address: nobody's rows.
  for (let i = 0; i < 9; i++) {
    events.push({
      ...base(null, null, '10.9.9.9', Date.UTC(2026, 2, 3, 12, i)),
      claimedUser: HEAVY,
      action: 'auth-failed',
      reason: 'auth:bad-password',
      status: 407,
    });
    counts.failed++;
  }
  // The review week (2 to 8 March 2026): a member of staff and another pupil, in every flagged category.
  for (const [i, c] of FLAGGED_CATS.entries()) {
    events.push(block(base(STAFF, 'staff', '10.2.0.5', Date.UTC(2026, 2, 3, 9, i)), c));
    events.push(block(base(PUPIL, 'pupil', '10.1.0.9', Date.UTC(2026, 2, 4, 9, i)), c));
  }
  // A search a keyword alert matched.
  const alertedSearch: AuditEvent = {
    ...heavy(Date.UTC(2026, 2, 5, 11)),
    host: 'www.google.com',
    method: 'GET',
    path: '/search?q=how+to+hurt+myself',
    kind: 'inspected',
    searchTerm: 'how to hurt myself',
    searchEngine: 'google',
  };
  events.push(alertedSearch);
  counts.rows++;
  counts.searches++;

  events.sort((x, y) => x.time - y.time);
  const dbPath = path.join(dataDir, 'audit.sqlite');
  const store = openSqliteAuditStore({ path: dbPath });
  for (let i = 0; i < events.length; i += 200)
    await Promise.all(events.slice(i, i + 200).map((e) => store.record(e)));
  await store.close();
  const db = openWritableDatabase(dbPath, { busyTimeoutMs: 5000 });
  try {
    upsertAlert(db, {
      id: uuid(),
      firstTime: alertedSearch.time,
      lastTime: alertedSearch.time,
      count: 1,
      user: HEAVY,
      profile: 'pupil',
      clientIp: alertedSearch.clientIp,
      device: null,
      rule: 'keyword:selfharm',
      list: 'selfharm',
      severity: 'danger',
      url: null,
      searchTerm: alertedSearch.searchTerm!,
      phrase: 'hurt myself',
      auditRowIds: [alertedSearch.id],
    });
  } finally {
    db.close();
  }
  return {
    dir,
    dataDir,
    config,
    rows: counts.rows,
    searches: counts.searches,
    continues: counts.continues,
    failedLogins: counts.failed,
    selfReports: { matched: counts.matched, unmatched: counts.unmatched },
    inventedSite: invented,
    week: { from: '2026-03-02', to: '2026-03-08' },
  };
}
