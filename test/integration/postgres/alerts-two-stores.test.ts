/**
 * `schoolgate alerts list | show | ack` on SQLite and on PostgreSQL: the same alerts in the reports
 * fixture's SQLite file and in a private PostgreSQL cluster (its rows copied by `store migrate`) give the
 * same output; on PostgreSQL every read is recorded in PostgreSQL's report_access first, an alert another
 * node wrote is listed and acknowledged, of two DSLs acking at once the first wins, and nothing is shown
 * when the read cannot be recorded.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAlert, type AlertWrite } from '../../../src/audit/alerts-table.js';
import { pgAlertStore, upsertPgAlert } from '../../../src/audit/postgres/alerts.js';
import { pgPool } from '../../../src/audit/postgres/connect.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, type PgCluster } from '../../helpers/pg-cluster.js';
import { NOV, type Fixture } from '../reports/fixture.js';
import { fixtureInBothStores } from './two-stores-fixture.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const DSL = ['--by', 'J. Smith (DSL)'];
const PURGED = '0197ffff-0000-7000-8000-00000000dead';

function alert(id: string, over: Partial<AlertWrite>): AlertWrite {
  return {
    id,
    firstTime: NOV(3, 14, 0),
    lastTime: NOV(3, 14, 0),
    count: 1,
    user: 'pupil1',
    profile: 'pupil',
    clientIp: '10.0.0.12',
    device: null,
    rule: 'keyword:gambling',
    list: 'gambling',
    severity: 'danger',
    url: null,
    searchTerm: null,
    phrase: null,
    auditRowIds: [],
    ...over,
  };
}

const A = {
  danger: '0197b000-0000-7000-8000-000000000001',
  warning: '0197b000-0000-7000-8000-000000000002',
  guest: '0197b000-0000-7000-8000-000000000003',
  raced: '0197b000-0000-7000-8000-000000000004',
  casRaced: '0197b000-0000-7000-8000-000000000005',
  nodeB: '0197b000-0000-7000-8000-0000000000b1',
};

describe.skipIf(!bin)('alerts list | show | ack on SQLite and on PostgreSQL', { timeout: 120_000 }, () => {
  let cluster: PgCluster;
  let fx: Fixture;
  let admin: pg.Client;
  let pgConfig: string;
  let downConfig: string;

  const accessRows = async () =>
    (
      await admin.query(
        'SELECT command, subject, outcome, by_name, site, reason FROM report_access ORDER BY id',
      )
    ).rows as Record<string, unknown>[];
  const pgAlert = async (id: string) =>
    (await admin.query('SELECT status, acked_by, ack_note FROM alerts WHERE id = $1', [id])).rows[0] as
      Record<string, unknown> | undefined;

  beforeAll(async () => {
    ({ cluster, fx } = await fixtureInBothStores('school-a'));
    const writes = [
      alert(A.danger, {
        lastTime: NOV(3, 14, 1),
        count: 3,
        site: 'north',
        searchTerm: 'how to gamble',
        phrase: 'gamble',
        url: 'https://www.google.com/search?q=how+to+gamble',
        // Out of time order, and one purged since: shown oldest first, the purged one counted.
        auditRowIds: [fx.ids['search']!, fx.ids['bet1']!, PURGED],
      }),
      alert(A.warning, {
        user: 'pupil2',
        site: 'south',
        rule: 'repeated:blocked-flagged',
        list: null,
        severity: 'warning',
        firstTime: NOV(3, 12, 0),
        lastTime: NOV(3, 12, 3),
        count: 4,
      }),
      alert(A.guest, {
        user: null,
        profile: 'guest',
        device: 'LAB-PC-07',
        clientIp: '10.0.9.9',
        severity: 'advisory',
        firstTime: NOV(4, 9, 0),
        lastTime: NOV(4, 9, 0),
      }),
      alert(A.raced, { firstTime: NOV(5, 9, 0), lastTime: NOV(5, 9, 0) }),
      alert(A.casRaced, { firstTime: NOV(5, 10, 0), lastTime: NOV(5, 10, 0) }),
    ];
    const file = new Database(fx.dbPath);
    try {
      for (const w of writes) upsertAlert(file, w);
    } finally {
      file.close();
    }
    admin = new pg.Client(cluster.url);
    await admin.connect();
    for (const w of writes) await upsertPgAlert(admin, w);
    pgConfig = path.join(fx.dir, 'config-pg.yaml');
    writeFileSync(pgConfig, readFileSync(fx.config, 'utf8'));
    appendFileSync(pgConfig, `store:\n  postgres:\n    url: ${cluster.url}\n    node: school-a\n`);
    downConfig = path.join(fx.dir, 'config-pg-down.yaml');
    writeFileSync(
      downConfig,
      readFileSync(pgConfig, 'utf8').replace(/url: .*/, 'url: postgres://nobody@127.0.0.1:1/none'),
    );
  }, 120_000);
  afterAll(async () => {
    await admin?.end();
    await cluster?.stop();
  });

  it.each([
    ['list --json', ['list', '--json', '--since', '2026-11-01']],
    ['list text, one site', ['list', '--site', 'north', '--since', '2026-11-01']],
    ['list --open --severity warning', ['list', '--open', '--severity', 'warning', '--json']],
    ['show text', ['show', A.danger]],
    ['show --json', ['show', A.danger, '--json']],
  ])('%s: the same output from both stores, the read recorded in PostgreSQL first', async (_n, args) => {
    const before = (await accessRows()).length;
    const run = (config: string) => runCli(['alerts', ...args, ...DSL, '--config', config]);
    const [onPg, onFile] = await Promise.all([run(pgConfig), run(fx.config)]);
    expect(onPg.code, onPg.stderr).toBe(0);
    expect(onFile.code, onFile.stderr).toBe(0);
    expect(onPg.stdout).toBe(onFile.stdout);
    expect(onPg.stderr).toBe(onFile.stderr);
    expect(onPg.stdout.length).toBeGreaterThan(100);
    const added = (await accessRows()).slice(before);
    expect(added).toMatchObject([
      { command: `alerts ${args[0]}${args[0] === 'show' ? ` ${A.danger}` : ''}`, outcome: 'granted' },
    ]);
    expect(added[0]!['by_name']).toBe('J. Smith (DSL)');
  });

  it('shows the referenced rows PostgreSQL holds, oldest first, the purged one counted', async () => {
    const r = await runCli(['alerts', 'show', A.danger, '--json', ...DSL, '--config', pgConfig]);
    const shown = JSON.parse(r.stdout) as { rows: { id: string }[] };
    expect(shown.rows.map((x) => x.id)).toEqual([fx.ids['bet1'], fx.ids['search']]);
    const text = await runCli(['alerts', 'show', A.danger, ...DSL, '--config', pgConfig]);
    expect(text.stdout).toContain('referenced: 3; no longer in the audit log (purged): 1.');
    expect(text.stdout).toContain('how to »gamble«');
  });

  it('refuses an unknown id on PostgreSQL (SG_ALERT_UNKNOWN), the refusal recorded there', async () => {
    const r = await runCli(['alerts', 'show', 'no-such-alert', ...DSL, '--config', pgConfig]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SG_ALERT_UNKNOWN');
    expect((await accessRows()).at(-1)).toMatchObject({
      command: 'alerts show no-such-alert',
      outcome: 'refused',
      reason: 'there is no alert no-such-alert',
    });
  });

  it('lists and acknowledges from node A an alert node B wrote', async () => {
    const b = await PostgresAuditStore.open({ connectionString: cluster.url, node: 'school-b' });
    try {
      await b.writeAlert(
        alert(A.nodeB, { user: 'pupil7', firstTime: NOV(6, 9, 0), lastTime: NOV(6, 9, 0), site: 'south' }),
      );
    } finally {
      await b.close();
    }
    const listed = await runCli(['alerts', 'list', '--open', '--json', ...DSL, '--config', pgConfig]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(A.nodeB);
    const acked = await runCli([
      'alerts',
      'ack',
      A.nodeB,
      '--note',
      'spoke to pupil7 with head of year',
      ...DSL,
      '--config',
      pgConfig,
    ]);
    expect(acked.code, acked.stderr).toBe(0);
    expect(acked.stdout).toMatch(new RegExp(`^alert ${A.nodeB} acknowledged by J\\. Smith \\(DSL\\)`));
    expect(await pgAlert(A.nodeB)).toEqual({
      status: 'acked',
      acked_by: 'J. Smith (DSL)',
      ack_note: 'spoke to pupil7 with head of year',
    });
    expect((await accessRows()).at(-1)).toMatchObject({
      command: `alerts ack ${A.nodeB}`,
      subject: 'pupil7',
      outcome: 'granted',
    });
    const again = await runCli(['alerts', 'ack', A.nodeB, '--note', 'x', ...DSL, '--config', pgConfig]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('SG_ALERT_ACKED');
  });

  it('of two DSLs acking at once, the first wins and the second is told (SG_ALERT_ACKED)', async () => {
    const ack = (who: string) =>
      runCli(['alerts', 'ack', A.raced, '--note', `by ${who}`, '--by', who, '--config', pgConfig]);
    const results = await Promise.all([ack('DSL One'), ack('DSL Two')]);
    const won = results.filter((r) => r.code === 0);
    const lost = results.filter((r) => r.code !== 0);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.stderr).toContain('SG_ALERT_ACKED');
    const winner = won[0]!.stdout.match(/acknowledged by (DSL \w+)/)![1]!;
    expect(await pgAlert(A.raced)).toEqual({ status: 'acked', acked_by: winner, ack_note: `by ${winner}` });
  });

  it('acknowledges by compare-and-set: two connections at once, exactly one changes the alert', async () => {
    const pools = [1, 2].map(() => pgPool({ connectionString: cluster.url, max: 1 }));
    try {
      const done = await Promise.all(
        pools.map((p, i) =>
          pgAlertStore(p).ackIfOpen(A.casRaced, {
            at: Date.now(),
            by: `DSL ${i}`,
            osUser: 'dsl',
            note: `n${i}`,
          }),
        ),
      );
      expect(done.filter(Boolean)).toHaveLength(1);
      const winner = done.indexOf(true);
      expect(await pgAlert(A.casRaced)).toEqual({
        status: 'acked',
        acked_by: `DSL ${winner}`,
        ack_note: `n${winner}`,
      });
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('shows nothing when PostgreSQL is down or cannot record the read', async () => {
    const down = await runCli(['alerts', 'list', '--json', ...DSL, '--config', downConfig]);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toContain('SG_AUDIT_UNAVAILABLE');
    expect(down.stdout).toBe('');
    const before = (await accessRows()).length;
    await admin.query('ALTER TABLE report_access RENAME TO report_access_away');
    try {
      for (const args of [
        ['list', '--json'],
        ['show', A.danger, '--json'],
        ['ack', A.warning, '--note', 'unrecorded'],
      ]) {
        const r = await runCli(['alerts', ...args, ...DSL, '--config', pgConfig]);
        expect(r.code, args.join(' ')).not.toBe(0);
        expect(r.stderr).toContain('SG_AUDIT_UNAVAILABLE');
        expect(r.stdout).toBe('');
      }
    } finally {
      await admin.query('ALTER TABLE report_access_away RENAME TO report_access');
    }
    expect(await accessRows()).toHaveLength(before);
    expect(await pgAlert(A.warning)).toMatchObject({ status: 'open' });
  });
});
