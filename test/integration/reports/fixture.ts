/**
 * A fixture audit database with known counts, written through the real SqliteAuditStore (so every row is
 * chained exactly as the proxy's writer chains it), plus a config that names the allowed OS users.
 * School time zone Europe/London; November is GMT, so local times equal UTC below.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { openSqliteAuditStore, type AuditEvent } from '../../../src/audit/index.js';
import type { ReportSource } from '../../../src/reports/source.js';
import { SqliteReads } from '../../../src/reports/sqlite-reads.js';
import { LocalClock } from '../../../src/reports/time.js';
import { tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

export const NOV = (day: number, h: number, m = 0, s = 0): number => Date.UTC(2026, 10, day, h, m, s);

export interface Fixture {
  dir: string;
  dataDir: string;
  dbPath: string;
  config: string;
  /** A config whose allowed OS users exclude the one running the tests. */
  otherConfig: string;
  ids: Record<string, string>;
  /** The old (purgeable) rows: ids by user. */
  old: Record<string, string[]>;
}

export function ev(overrides: Partial<AuditEvent>): AuditEvent {
  return {
    id: randomUUID(),
    time: NOV(2, 9),
    user: 'pupil1',
    profile: 'pupil',
    clientIp: '10.0.0.12',
    device: null,
    method: 'GET',
    scheme: 'http',
    host: 'allowed.test',
    port: 80,
    path: '/',
    categories: [],
    action: 'allow',
    rule: 'default',
    reason: 'default',
    flagged: false,
    status: 200,
    ...overrides,
  };
}

export const HOSTILE_PATH = '/<script>alert("x")</script><img src=x onerror=alert(1)>\r\nFAKE LINE';
export const HOSTILE_TERM = '=HYPERLINK("http://evil.test/","click")';

export async function buildFixture(): Promise<Fixture> {
  const dir = tempDir('sg-reports-');
  const dataDir = path.join(dir, 'data');
  const dbPath = path.join(dataDir, 'audit.sqlite');
  const categories = writeFixtureCategories(path.join(dir, 'categories'));
  const me = os.userInfo().username;
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    `dataDir: ${dataDir}\ncategoriesDir: ${categories}\ntimeZone: Europe/London\n` +
      `reports:\n  allowedOsUsers: [${JSON.stringify(me)}, head.teacher]\n  retentionDays: 365\n`,
  );
  const otherConfig = path.join(dir, 'other.yaml');
  writeFileSync(
    otherConfig,
    `dataDir: ${dataDir}\ncategoriesDir: ${categories}\ntimeZone: Europe/London\n` +
      `reports:\n  allowedOsUsers: [head.teacher, dsl]\n`,
  );
  const ids: Record<string, string> = {};
  const gamble = {
    categories: ['gambling'],
    action: 'block' as const,
    flagged: true,
    status: 403,
    reason: 'category',
  };
  const events: AuditEvent[] = [];
  const add = (name: string | null, e: AuditEvent) => {
    if (name) ids[name] = e.id;
    events.push(e);
  };
  // pupil1, 2-6 November: 14 rows.
  for (let i = 0; i < 3; i++) add(null, ev({ time: NOV(2, 9, 15, i) }));
  add('bet1', ev({ ...gamble, time: NOV(2, 10, 0), host: 'bet.test' }));
  add(null, ev({ ...gamble, time: NOV(2, 10, 0, 30), host: 'bet.test' }));
  add(null, ev({ ...gamble, time: NOV(2, 10, 1), host: 'www.bet.test' }));
  const social = { categories: ['social'], host: 'facebook.com', profile: 'staff' };
  add('warn', ev({ ...social, time: NOV(3, 13, 30), action: 'warn', status: 200 }));
  add('continue', ev({ ...social, time: NOV(3, 13, 30, 20), action: 'continue', status: 302 }));
  add(null, ev({ ...social, time: NOV(3, 13, 31), action: 'continued' }));
  add(null, ev({ ...social, time: NOV(3, 13, 32), action: 'continued' }));
  add(
    'search',
    ev({
      time: NOV(3, 14, 0),
      scheme: 'https',
      port: 443,
      host: 'www.google.com',
      path: '/search?q=how+to+gamble',
      kind: 'inspected',
      searchTerm: 'how to gamble',
      searchEngine: 'google',
      rewrites: ['safe=active'],
    }),
  );
  add(
    'adult',
    ev({
      time: NOV(4, 11, 0),
      host: 'blocked.example',
      categories: ['adult'],
      action: 'block',
      flagged: true,
      status: 403,
    }),
  );
  add(
    'selfReport',
    ev({
      time: NOV(4, 11, 1),
      host: 'blocked.example',
      path: '/.schoolgate/report',
      method: 'POST',
      action: 'self-report',
      reason: `self-report:${events[events.length - 1]!.id}`,
      note: 'I clicked an advert by mistake',
    }),
  );
  add(
    'hostile',
    ev({
      time: NOV(4, 11, 5),
      host: 'evil.test',
      path: HOSTILE_PATH,
      searchTerm: HOSTILE_TERM,
      searchEngine: 'bing',
    }),
  );
  // pupil2: 4 flagged bet.test attempts and 2 ordinary rows on 3 November.
  for (let i = 0; i < 4; i++)
    add(null, ev({ ...gamble, user: 'pupil2', time: NOV(3, 12, i), host: 'bet.test' }));
  for (let i = 0; i < 2; i++) add(null, ev({ user: 'pupil2', time: NOV(3, 12, 10 + i) }));
  // Old rows, 400 days before now (past the 365-day retention), written first as they would have been.
  const old: Record<string, string[]> = { pupil1: [], pupil3: [] };
  const oldEvents: AuditEvent[] = [];
  const longAgo = Date.now() - 400 * 86_400_000;
  for (let i = 0; i < 3; i++) {
    const e = ev({ user: 'pupil1', time: longAgo + i * 1000 });
    old['pupil1']!.push(e.id);
    oldEvents.push(e);
  }
  for (let i = 0; i < 5; i++) {
    const e = ev({ user: 'pupil3', time: longAgo + 3600_000 + i * 1000 });
    old['pupil3']!.push(e.id);
    oldEvents.push(e);
  }
  const store = openSqliteAuditStore({ path: dbPath, batchMaxRows: 7 });
  // Insertion order = chain order. Awaited in groups, so batches of several rows are committed together.
  const all = [...oldEvents, ...events];
  for (let i = 0; i < all.length; i += 5) await Promise.all(all.slice(i, i + 5).map((e) => store.record(e)));
  store.complete(ids['bet1']!, { status: 403, bytesIn: 120, bytesOut: 900, durationMs: 3 });
  await store.close();
  return { dir, dataDir, dbPath, config, otherConfig, ids, old };
}

/** A report source over one open SQLite file, in the fixture's time zone, with no category names. */
export function londonSource(db: Database.Database, now: number): ReportSource {
  return {
    reads: new SqliteReads(db),
    timeZone: 'Europe/London',
    now,
    clock: new LocalClock('Europe/London'),
    categories: new Map(),
  };
}
