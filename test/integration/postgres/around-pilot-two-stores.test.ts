/**
 * report around, report pilot and report access-log on both stores: one test table, the reports fixture
 * (plus pilot-mode rows of two sites) as its SQLite file and copied into a private PostgreSQL cluster, with
 * the same text, JSON and CSV from each. Then the CLI on store: { postgres }: each look recorded in
 * PostgreSQL first, another site's row refused with --site (the refusal recorded), another node's row
 * found, an edited row reported FAILED, and the plans of the new queries.
 */
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWritableDatabase } from '../../../src/audit/open-database.js';
import { migrateSqliteToPostgres } from '../../../src/audit/postgres/migrate-from-sqlite.js';
import { PgAccessRecorder, pgAccessPageSql } from '../../../src/audit/postgres/report-access.js';
import { pgPageSql, PG_ROWS_WHERE } from '../../../src/audit/postgres/report-reads.js';
import { recordAccess, type AccessEntry } from '../../../src/audit/report-access.js';
import {
  buildAccessLog,
  buildAroundReport,
  buildPilotReport,
  findEvent,
  type BuiltReport,
} from '../../../src/reports/builders.js';
import { openReadOnly, type ReportSource } from '../../../src/reports/source.js';
import { SqliteReads } from '../../../src/reports/sqlite-reads.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, type PgCluster } from '../../helpers/pg-cluster.js';
import { buildFixture, ev, NOV, type Fixture } from '../reports/fixture.js';
import {
  expectIndexedPlans,
  openTwoStores,
  pgConfigOf,
  reportOutputs,
  type TwoStores,
} from './two-stores-fixture.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const NODE = 'school-a';
const FROM = NOV(1, 0);
const TO = NOV(8, 0);
const puller = { by: 'A. Head (DSL)', osUser: 'dsl', caseRef: 'C-1', purpose: 'two stores' };

/** Pilot mode's rows at two sites: what enforce would have blocked or warned, by category and by default. */
const gamble = { categories: ['gambling'], reason: 'category', flagged: true, host: 'bet.test' };
const PILOT = [
  ev({
    ...gamble,
    id: 'pilot-north-1',
    user: 'pupil4',
    site: 'north',
    time: NOV(4, 10, 0),
    action: 'would-block',
  }),
  ev({ user: 'pupil4', site: 'north', time: NOV(4, 10, 0, 30), host: 'news.test' }),
  ev({ ...gamble, user: 'pupil4', site: 'north', time: NOV(4, 10, 1), action: 'would-block' }),
  ev({
    categories: ['social'],
    reason: 'category',
    host: 'facebook.com',
    profile: 'staff',
    user: 'staff1',
    site: 'north',
    time: NOV(4, 11, 0),
    action: 'would-warn',
  }),
  ev({
    id: 'pilot-south-1',
    user: 'pupil5',
    site: 'south',
    time: NOV(5, 9, 0),
    host: 'odd.test',
    action: 'would-block',
  }),
];

/** The same looks recorded in both stores' report_access (the access log's rows). */
const LOOKS: AccessEntry[] = [
  {
    timeMs: NOV(3, 9),
    by: 'A. Head',
    osUser: 'head',
    command: 'report user',
    subject: 'pupil1',
    caseRef: 'C-1',
    fromMs: FROM,
    toMs: TO,
    format: 'html',
    outcome: 'granted',
    purpose: 'concern',
  },
  {
    timeMs: NOV(3, 10),
    by: 'T. Tech',
    osUser: 'tech',
    command: 'report user',
    subject: 'pupil2',
    outcome: 'refused',
    reason: 'no case',
    purpose: 'curious',
    site: 'north',
  },
  {
    timeMs: NOV(4, 9),
    by: 'D. Dsl',
    osUser: 'dsl',
    command: 'report flagged',
    fromMs: FROM,
    toMs: TO,
    format: 'csv',
    outFile: '/tmp/f.csv',
    outcome: 'granted',
    purpose: 'weekly',
  },
  {
    timeMs: NOV(9, 9),
    by: 'A. Head',
    osUser: 'head',
    command: 'report around',
    subject: 'pupil1',
    caseRef: 'C-1',
    outcome: 'granted',
    purpose: 'context',
    sudoUser: 'ahead',
  },
];

type Build = (src: ReportSource, fx: Fixture) => Promise<BuiltReport>;
const north = (src: ReportSource): ReportSource => ({ ...src, site: 'north' });

/** The new reports, each built exactly as the CLI builds it. */
const CASES: [string, Build][] = [
  [
    'around bet1, 60 minutes',
    async (src, fx) => buildAroundReport(src, await findEvent(src, fx.ids['bet1']!), 60, puller),
  ],
  [
    'around warn, 5 minutes',
    async (src, fx) => buildAroundReport(src, await findEvent(src, fx.ids['warn']!), 5, puller),
  ],
  [
    'around a pilot row, site north',
    async (s) => buildAroundReport(north(s), await findEvent(north(s), 'pilot-north-1'), 90, puller),
  ],
  ['pilot', (src) => buildPilotReport(src, FROM, TO, { ...puller, caseRef: null })],
  ['pilot, site north', (src) => buildPilotReport(north(src), FROM, TO, { ...puller, caseRef: null })],
  [
    'access-log',
    async (src) =>
      buildAccessLog(src, await src.reads.accessLog({ fromMs: 0, toMs: TO }), 'Report access log'),
  ],
  [
    'access-log of a case',
    async (src) =>
      buildAccessLog(src, await src.reads.accessLog({ caseRef: 'C-1' }), 'Report access log: case C-1'),
  ],
];

const outputs = async (src: ReportSource, fx: Fixture, build: Build) =>
  reportOutputs(src, await build(src, fx), NODE);

describe.skipIf(!bin)('report around, pilot and access-log on SQLite and on PostgreSQL', () => {
  let t: TwoStores;
  let cluster: PgCluster;
  let fx: Fixture;
  let admin: pg.Client;
  let common: TwoStores['common'];

  beforeAll(async () => {
    t = await openTwoStores(NODE, PILOT);
    ({ cluster, fx, admin, common } = t);
    const w = openWritableDatabase(fx.dbPath, { busyTimeoutMs: 5000 });
    const pgLooks = new PgAccessRecorder(admin);
    for (const look of LOOKS) {
      recordAccess(w, look);
      await pgLooks.record(look);
    }
    w.close();
  }, 120_000);
  afterAll(() => t?.close());

  const onSqlite = () => t.onSqlite();
  const onPostgres = () => t.onPostgres();

  it.each(CASES)('%s: the same report from both stores', async (_name, build) => {
    const [a, b] = await Promise.all([outputs(onSqlite(), fx, build), outputs(onPostgres(), fx, build)]);
    expect(b.data).toEqual(a.data);
    expect(b.text).toBe(a.text);
    expect(b.csv).toBe(a.csv);
    expect(b.json).toBe(a.json);
    expect(a.text.length).toBeGreaterThan(300);
    if ('verification' in a.data) expect(a.data['verification']).toMatchObject({ ok: true });
  });

  it('has something in each: the around rows, pilot mode’s sites and rules, the looks', async () => {
    const src = onPostgres();
    const around = await buildAroundReport(src, await findEvent(src, fx.ids['bet1']!), 60, puller);
    expect(around.data['verification']).toMatchObject({ ok: true, checked: 6, unchained: 0 });
    const pilot = await buildPilotReport(src, FROM, TO, { ...puller, caseRef: null });
    expect(pilot.data).toMatchObject({ wouldBlock: 3, wouldWarn: 1, people: 3 });
    const northOnly = await buildPilotReport(north(src), FROM, TO, { ...puller, caseRef: null });
    expect(northOnly.data).toMatchObject({ wouldBlock: 2, wouldWarn: 1, people: 2 });
    expect((await src.reads.accessLog({ caseRef: 'C-1' })).map((e) => e.command)).toEqual([
      'report user',
      'report around',
    ]);
  });

  it('does not find another site’s row with a site, on either store, in the same words', async () => {
    const refusals = await Promise.all(
      [onSqlite(), onPostgres()].map((src) =>
        findEvent({ ...src, site: 'south' }, 'pilot-north-1').then(
          () => 'found',
          (err: Error) => err.message,
        ),
      ),
    );
    expect(refusals[0]).toBe('no audit row with reference pilot-north-1 in site south');
    expect(refusals[1]).toBe(refusals[0]);
  });

  it('reports a row edited in either store FAILED in the context report, with the same verdict', async () => {
    const id = fx.ids['search']!;
    const copy = path.join(fx.dir, 'edited-around.sqlite');
    copyFileSync(fx.dbPath, copy);
    const w = new Database(copy);
    w.prepare(`UPDATE audit_events SET host = 'elsewhere.example' WHERE id = ?`).run(id);
    w.close();
    await admin.query(`UPDATE audit_events SET host = 'elsewhere.example' WHERE id = $1`, [id]);
    const edited = openReadOnly(copy);
    try {
      const build: Build = async (src) =>
        buildAroundReport(src, await findEvent(src, fx.ids['warn']!), 60, puller);
      const a = await outputs({ ...common, reads: new SqliteReads(edited) }, fx, build);
      const b = await outputs(onPostgres(), fx, build);
      expect(a.data['verification']).toMatchObject({ ok: false, firstBreak: { id } });
      expect(b.data['verification']).toEqual(a.data['verification']);
      expect(b.text).toBe(a.text);
      expect(b.text).toMatch(/Tamper check\s+FAILED at seq \d+/);
    } finally {
      edited.close();
      await admin.query(`UPDATE audit_events SET host = 'www.google.com' WHERE id = $1`, [id]);
    }
  });

  it('answers the pilot and access-log pages from an index, in their order (EXPLAIN: no scan, no sort)', async () => {
    await expectIndexedPlans(cluster.url, [
      [pgPageSql(PG_ROWS_WHERE.pilot, 3), [FROM, TO, -Number.MAX_SAFE_INTEGER, '', 0]],
      [pgAccessPageSql(false), [0, TO, -Number.MAX_SAFE_INTEGER, 0, 1000]],
      [pgAccessPageSql(true), ['C-1', -Number.MAX_SAFE_INTEGER, 0, 1000]],
      // report around's row by its id (its person's rows: PG_ROWS_WHERE.user, reports-two-stores).
      [`SELECT * FROM audit_events WHERE id = $1 LIMIT 1`, ['pilot-north-1']],
    ]);
  });

  describe('the CLI with store: { postgres }', () => {
    let pgConfig: string;
    beforeAll(async () => {
      pgConfig = pgConfigOf(t, NODE);
      // The case each store keeps (`case open` writes where config.store says).
      for (const config of [fx.config, pgConfig]) {
        const opened = await runCli([
          'case',
          'open',
          'C-AR',
          '--subject',
          'pupil1',
          '--subject',
          'pupil4',
          '--by',
          'A. Head (DSL)',
          '--config',
          config,
        ]);
        expect(opened.code, opened.stderr).toBe(0);
      }
    }, 60_000);
    const cli = (config: string, args: string[]) =>
      runCli(['report', ...args, '--by', 'A. Head (DSL)', '--config', config]);
    const lastAccess = async (n: number) =>
      (
        await admin.query(
          'SELECT command, outcome, subject, case_ref, site, purpose, reason FROM report_access ORDER BY id DESC LIMIT $1',
          [n],
        )
      ).rows.reverse();
    const pulledAt = /^Pulled at.*$/m;

    it('prints report around and report pilot as SQLite does, each recorded in PostgreSQL first', async () => {
      const around = ['around', fx.ids['bet1']!, '--case', 'C-AR', '--reason', 'context of the attempt'];
      const pilot = [
        'pilot',
        '--since',
        '2026-11-01',
        '--to',
        '2026-11-08',
        '--reason',
        'trial of the policy',
      ];
      for (const args of [around, pilot, [...pilot, '--site', 'north', '--format', 'csv']]) {
        const [onPg, onFile] = [await cli(pgConfig, args), await cli(fx.config, args)];
        expect(onPg.code, onPg.stderr).toBe(0);
        expect(onPg.stderr).toBe(onFile.stderr);
        const unnode = (out: string) => out.replace(pulledAt, '').replaceAll(`node ${NODE}: `, '');
        expect(unnode(onPg.stdout)).toBe(unnode(onFile.stdout));
      }
      expect(await lastAccess(3)).toEqual([
        {
          command: 'report around',
          outcome: 'granted',
          subject: 'pupil1',
          case_ref: 'C-AR',
          site: null,
          purpose: 'context of the attempt',
          reason: null,
        },
        {
          command: 'report pilot',
          outcome: 'granted',
          subject: null,
          case_ref: null,
          site: null,
          purpose: 'trial of the policy',
          reason: null,
        },
        {
          command: 'report pilot',
          outcome: 'granted',
          subject: null,
          case_ref: null,
          site: 'north',
          purpose: 'trial of the policy',
          reason: null,
        },
      ]);
    });

    it('lists PostgreSQL’s report_access up to now, this look recorded there first', async () => {
      const r = await cli(pgConfig, ['access-log', '--reason', 'audit of access', '--format', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const entries = (JSON.parse(r.stdout) as { entries: { command: string; purpose: string }[] }).entries;
      expect(entries.slice(0, LOOKS.length).map((e) => e.purpose)).toEqual(LOOKS.map((l) => l.purpose));
      // Up to now, as on SQLite: the look itself is recorded (below), listed by the next one.
      expect(entries.at(-1)).toMatchObject({ command: 'report pilot', purpose: 'trial of the policy' });
      expect(await lastAccess(1)).toMatchObject([
        { command: 'report access-log', outcome: 'granted', purpose: 'audit of access' },
      ]);
      expect(entries.map((e) => e.command)).toContain('report around');
      const ofCase = await cli(pgConfig, ['access-log', '--case', 'C-AR', '--reason', 'audit of one case']);
      expect(ofCase.code, ofCase.stderr).toBe(0);
      expect(ofCase.stdout).toContain('Report access log: case C-AR');
      expect(ofCase.stdout).toContain('context of the attempt');
    });

    it('refuses another site’s row with --site before reading it, and records the refusal', async () => {
      const args = ['around', 'pilot-north-1', '--site', 'south', '--case', 'C-AR', '--reason', 'context'];
      const [onPg, onFile] = [await cli(pgConfig, args), await cli(fx.config, args)];
      expect(onPg.code).not.toBe(0);
      expect(onPg.stderr).toContain('SG_REPORT_REFUSED');
      expect(onPg.stderr).toContain('audit row pilot-north-1 is not of site south (it is of site north)');
      expect(onPg.stderr).toBe(onFile.stderr);
      expect(onPg.stdout).toBe('');
      expect(await lastAccess(1)).toMatchObject([
        { command: 'report around', outcome: 'refused', site: 'south' },
      ]);
    });

    it('refuses report around with SG_AUDIT_UNAVAILABLE, reading nothing, when PostgreSQL is unreachable', async () => {
      const down = pgConfigOf(t, NODE, true);
      const r = await cli(down, ['around', fx.ids['bet1']!, '--case', 'C-AR', '--reason', 'context']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('SG_AUDIT_UNAVAILABLE');
      expect(r.stdout).toBe('');
    });

    // Last of all: a second node's rows join the database.
    it('finds a row another node wrote, its context from every node’s rows, each checked on its own chain', async () => {
      const other = await buildFixture();
      await migrateSqliteToPostgres({
        sqlitePath: other.dbPath,
        target: { connectionString: cluster.url },
        node: 'school-b',
      });
      const r = await cli(pgConfig, [
        'around',
        other.ids['bet1']!,
        '--case',
        'C-AR',
        '--reason',
        'context on node b',
        '--format',
        'json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const data = JSON.parse(r.stdout) as { ref: string; verification: unknown; rows: unknown[] };
      expect(data.ref).toBe(other.ids['bet1']);
      // Both nodes' rows of pupil1 in the hour either side: the fixture's six, twice.
      expect(data.verification).toEqual({ ok: true, checked: 12, unchained: 0, firstBreak: null });
      expect(data.rows).toHaveLength(12);
    });
  });
});
