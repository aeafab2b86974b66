/** Every report query is answered from an index: EXPLAIN QUERY PLAN never shows a full scan of audit_events. */
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  ATTENTION_ROWS_SQL,
  FLAGGED_ROWS_SQL,
  PILOT_ROWS_SQL,
  HOST_ROWS_SQL,
  USER_ROWS_SQL,
} from '../../../src/reports/source.js';
import { CLAIMED_LOGINS_SQL } from '../../../src/reports/claimed-logins.js';
import { UNCATEGORISED_SQL } from '../../../src/reports/build-uncategorised.js';
import { buildFixture, type Fixture } from './fixture.js';

let f: Fixture;
let db: Database.Database;
beforeAll(async () => {
  f = await buildFixture();
  db = new Database(f.dbPath, { readonly: true });
});
afterAll(() => {
  db.close();
  rmSync(f.dir, { recursive: true, force: true });
});

it.each([
  ['user rows', USER_ROWS_SQL, ['u', 0, 1, 0, 0, 10], 'audit_events_user_time'],
  ['host rows', HOST_ROWS_SQL, ['h', 0, 1, 0, 0, 10], 'audit_events_host_time'],
  ['flagged rows', FLAGGED_ROWS_SQL, [0, 1, 0, 0, 10], 'audit_events_flagged_time'],
  ['self-reports and continues', ATTENTION_ROWS_SQL, [0, 1, 0, 0, 10], 'audit_events_attention_time'],
  ['pilot mode rows', PILOT_ROWS_SQL, [0, 1, 0, 0, 10], 'audit_events_pilot_time'],
  [
    'uncategorised hosts',
    UNCATEGORISED_SQL,
    [0, 1, null, null, 50],
    'COVERING INDEX audit_events_uncategorised',
  ],
  ['failed logins claiming a name', CLAIMED_LOGINS_SQL, ['u', 0, 1], 'audit_events_claimed_time'],
  ['row by seq', 'SELECT * FROM audit_events WHERE seq = ?', [1], 'audit_events_seq'],
  [
    'verify walk',
    'SELECT * FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 5000',
    [0, 1],
    'audit_events_seq',
  ],
  [
    'purge walk',
    'SELECT seq, time_ms, username, chain_hash FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?',
    [0, 1],
    'audit_events_seq',
  ],
  [
    'subdomains',
    'SELECT host FROM audit_hosts WHERE rev = ? OR (rev >= ? AND rev < ?) ORDER BY rev',
    ['a', 'a.', 'a/'],
    'PRIMARY KEY',
  ],
] as const)('%s uses %s', (_name, sql, params, index) => {
  const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
    .map((r) => r.detail)
    .join('; ');
  expect(plan).toContain(index);
  expect(plan).not.toMatch(/\bSCAN audit_events\b/);
});
