/**
 * One test table, two stores: the reports' core cases (flagged, weekly, user, domain; one tampered row)
 * built from the reports fixture's SQLite file and from the same rows copied into a private PostgreSQL
 * cluster by `store migrate`, with the same expected output. Only the chain head's line names the node on
 * PostgreSQL. Then the CLI on store: { postgres }: the access recorded in PostgreSQL before reading, and
 * the plans of the PG queries. Around, pilot and the access log: around-pilot-two-stores.test.ts.
 */
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateSqliteToPostgres } from '../../../src/audit/postgres/migrate-from-sqlite.js';
import { pgPageSql, PG_ROWS_WHERE } from '../../../src/audit/postgres/report-reads.js';
import {
  buildDomainReport,
  buildFlaggedReport,
  buildUserReport,
  buildWeeklyReport,
  type BuiltReport,
} from '../../../src/reports/builders.js';
import { openReadOnly, type ReportSource } from '../../../src/reports/source.js';
import { SqliteReads } from '../../../src/reports/sqlite-reads.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, type PgCluster } from '../../helpers/pg-cluster.js';
import { buildFixture, NOV, type Fixture } from '../reports/fixture.js';
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

type Build = (src: ReportSource) => Promise<BuiltReport>;

/** The core cases: each built exactly as the CLI builds it. */
const CASES: [string, Build][] = [
  ['flagged', (src) => buildFlaggedReport(src, FROM, TO, { ...puller, caseRef: null })],
  ['weekly', (src) => buildWeeklyReport(src, FROM, TO, { ...puller, caseRef: null })],
  ['user pupil1', (src) => buildUserReport(src, 'pupil1', FROM, TO, puller)],
  ['user pupil2', (src) => buildUserReport(src, 'pupil2', FROM, TO, puller)],
  ['domain bet.test', (src) => buildDomainReport(src, 'bet.test', FROM, TO, puller)],
];

const outputs = async (src: ReportSource, build: Build) => reportOutputs(src, await build(src), NODE);

describe.skipIf(!bin)('reports on SQLite and on PostgreSQL: one table, two stores', () => {
  let t: TwoStores;
  let cluster: PgCluster;
  let fx: Fixture;
  let admin: pg.Client;
  let common: TwoStores['common'];

  beforeAll(async () => {
    t = await openTwoStores(NODE);
    ({ cluster, fx, admin, common } = t);
  }, 120_000);
  afterAll(() => t?.close());

  const onSqlite = () => t.onSqlite();
  const onPostgres = () => t.onPostgres();

  it.each(CASES)('%s: the same report from both stores', async (_name, build) => {
    const [a, b] = await Promise.all([outputs(onSqlite(), build), outputs(onPostgres(), build)]);
    expect(b.data).toEqual(a.data);
    expect(b.text).toBe(a.text);
    expect(b.csv).toBe(a.csv);
    expect(b.json).toBe(a.json);
    // The fixture has something in every one of them, and every row was checked on both.
    expect(a.text.length).toBeGreaterThan(500);
    if ('verification' in a.data) expect(a.data['verification']).toMatchObject({ ok: true });
  });

  it('checks the rows of a person on PostgreSQL against their node’s chain (its head and neighbours)', async () => {
    const built = await buildUserReport(onPostgres(), 'pupil1', FROM, TO, puller);
    expect(built.data['verification']).toMatchObject({ ok: true, checked: 14, unchained: 0 });
    expect(built.doc.sections.find((s) => s.id === 'tamper')!.facts).toContainEqual([
      'Chain head',
      expect.stringMatching(new RegExp(`^node ${NODE}: seq 28 [0-9a-f]{64}$`)),
    ]);
  });

  // Last: it edits the shared PostgreSQL rows.
  it('a row edited in either store makes the person’s report FAILED, with the same verdict', async () => {
    const id = fx.ids['search']!;
    const copy = path.join(fx.dir, 'edited.sqlite');
    copyFileSync(fx.dbPath, copy);
    const w = new Database(copy);
    w.prepare(`UPDATE audit_events SET host = 'elsewhere.example' WHERE id = ?`).run(id);
    w.close();
    await admin.query(`UPDATE audit_events SET host = 'elsewhere.example' WHERE id = $1`, [id]);
    const edited = openReadOnly(copy);
    try {
      const build: Build = (src) => buildUserReport(src, 'pupil1', FROM, TO, puller);
      const a = await outputs({ ...common, reads: new SqliteReads(edited) }, build);
      const b = await outputs(onPostgres(), build);
      // The row before it is pupil1's too: the break is worded as the link between the two.
      expect(a.data['verification']).toMatchObject({
        ok: false,
        firstBreak: { id, reason: expect.stringMatching(/^the row does not link to seq \d+/) },
      });
      expect(b.data['verification']).toEqual(a.data['verification']);
      expect(b.text).toBe(a.text);
      expect(b.text).toMatch(/Tamper check\s+FAILED at seq \d+: the row does not link to seq/);
    } finally {
      edited.close();
      await admin.query(`UPDATE audit_events SET host = 'www.google.com' WHERE id = $1`, [id]);
    }
  });

  describe('the CLI with store: { postgres }', () => {
    let pgConfig: string;
    beforeAll(() => {
      pgConfig = pgConfigOf(t, NODE);
    });
    const flagged = (config: string) =>
      runCli([
        'report',
        'flagged',
        '--since',
        '2026-11-01',
        '--to',
        '2026-11-08',
        '--by',
        'A. Head (DSL)',
        '--reason',
        'weekly review of flagged attempts',
        '--config',
        config,
      ]);
    const accessRows = async () =>
      (await admin.query('SELECT command, outcome, by_name, purpose, reason FROM report_access ORDER BY id'))
        .rows;

    it('prints the report SQLite prints, after recording the access in PostgreSQL', async () => {
      const before = await accessRows();
      const [onPg, onFile] = await Promise.all([flagged(pgConfig), flagged(fx.config)]);
      expect(onPg.stderr).toBe(onFile.stderr);
      expect(onPg.code).toBe(0);
      const pulledAt = /^Pulled at.*$/m;
      expect(onPg.stdout.replace(pulledAt, '')).toBe(onFile.stdout.replace(pulledAt, ''));
      expect(onPg.stdout).toContain('pupil2');
      expect((await accessRows()).slice(before.length)).toEqual([
        {
          command: 'report flagged',
          outcome: 'granted',
          by_name: 'A. Head (DSL)',
          purpose: 'weekly review of flagged attempts',
          reason: null,
        },
      ]);
    });

    it('pulls a person’s report under a case from PostgreSQL, as from SQLite, and records it there', async () => {
      // Each store keeps its own cases (`case open` writes where config.store says).
      for (const config of [fx.config, pgConfig]) {
        const opened = await runCli([
          'case',
          'open',
          'C-PG',
          '--subject',
          'pupil1',
          '--by',
          'A. Head (DSL)',
          '--config',
          config,
        ]);
        expect(opened.code, opened.stderr).toBe(0);
      }
      const user = (config: string) =>
        runCli([
          'report',
          'user',
          'pupil1',
          '--from',
          '2026-11-01',
          '--to',
          '2026-11-07',
          '--case',
          'C-PG',
          '--by',
          'A. Head (DSL)',
          '--reason',
          'concern raised by form tutor',
          '--format',
          'json',
          '--config',
          config,
        ]);
      const before = await accessRows();
      const [onPg, onFile] = [await user(pgConfig), await user(fx.config)];
      expect(onPg.code, onPg.stderr).toBe(0);
      expect(onFile.code, onFile.stderr).toBe(0);
      const data = (out: string) => {
        const { pulledAtMs: _at, ...rest } = JSON.parse(out.replaceAll(`node ${NODE}: `, '')) as Record<
          string,
          unknown
        >;
        return rest;
      };
      expect(data(onPg.stdout)).toEqual(data(onFile.stdout));
      expect(data(onPg.stdout)['verification']).toMatchObject({ ok: true, checked: 14 });
      expect((await accessRows()).slice(before.length)).toMatchObject([
        { command: 'report user', outcome: 'granted', purpose: 'concern raised by form tutor' },
      ]);

      // A domain under a case covers only its subjects, read from PostgreSQL: this case is in no SQLite file.
      const openedOnPg = await runCli([
        'case',
        'open',
        'C-DOM',
        '--subject',
        'pupil2',
        '--by',
        'A. Head (DSL)',
        '--config',
        pgConfig,
      ]);
      expect(openedOnPg.code, openedOnPg.stderr).toBe(0);
      const domain = await runCli([
        'report',
        'domain',
        'bet.test',
        '--from',
        '2026-11-01',
        '--to',
        '2026-11-07',
        '--case',
        'C-DOM',
        '--by',
        'A. Head (DSL)',
        '--reason',
        'which of the subject’s visits',
        '--format',
        'json',
        '--config',
        pgConfig,
      ]);
      expect(domain.code, domain.stderr).toBe(0);
      const people = (JSON.parse(domain.stdout) as { people: { user: string; requests: number }[] }).people;
      expect(people.map((p) => [p.user, p.requests])).toEqual([['pupil2', 4]]);
    });

    it('reads nothing when PostgreSQL cannot record the access', async () => {
      const down = pgConfigOf(t, NODE, true);
      const r = await flagged(down);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('SG_AUDIT_UNAVAILABLE');
      expect(r.stdout).toBe('');
    });
  });

  it('answers every paged report query from an index, in its order (EXPLAIN: no scan, no sort)', async () => {
    const after = [-Number.MAX_SAFE_INTEGER, '', 0];
    await expectIndexedPlans(cluster.url, [
      [pgPageSql(PG_ROWS_WHERE.user, 4), ['pupil1', FROM, TO, ...after]],
      [pgPageSql(PG_ROWS_WHERE.host, 4), ['bet.test', FROM, TO, ...after]],
      [pgPageSql(PG_ROWS_WHERE.flagged, 3), [FROM, TO, ...after]],
      [pgPageSql(PG_ROWS_WHERE.attention, 3), [FROM, TO, ...after]],
    ]);
  });
  // Last of all: a second node's rows join the database, at the very same times as the first's.
  it('checks each row against its own node’s chain when two nodes’ rows interleave', async () => {
    const other = await buildFixture();
    await migrateSqliteToPostgres({
      sqlitePath: other.dbPath,
      target: { connectionString: cluster.url },
      node: 'school-b',
    });
    const build: Build = (src) => buildUserReport(src, 'pupil1', FROM, TO, puller);
    const both = await outputs(onPostgres(), build);
    expect(both.data['verification']).toEqual({ ok: true, checked: 28, unchained: 0, firstBreak: null });
    expect(both.data['summary']).toMatchObject({ requests: 28 });
    expect(both.text).toContain('Chain heads');
    expect(both.text).toContain('node school-b: seq 28 ');
    const id = other.ids['adult']!;
    await admin.query(`UPDATE audit_events SET action = 'allow' WHERE node = 'school-b' AND id = $1`, [id]);
    const edited = await outputs(onPostgres(), build);
    expect(edited.data['verification']).toMatchObject({ ok: false, firstBreak: { id } });
  });
});
