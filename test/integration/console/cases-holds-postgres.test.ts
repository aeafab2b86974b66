/**
 * The headteacher's cases and holds pages on PostgreSQL (a private cluster, two real nodes over HTTPS): a
 * case opened and noted in the console of node A is seen with its notes and the looks under it on node
 * B; a hold placed on A and released on B is what the CLI's `hold list` on PostgreSQL shows; a site-scoped
 * account asking for another site's case gets a 403 recorded in PostgreSQL's report_access; with
 * PostgreSQL stopped the pages refuse (SG_AUDIT_UNAVAILABLE) and show nothing from a SQLite file.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hold } from '../../../src/audit/holds.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { ConsoleAccounts } from '../../../src/console/accounts.js';
import { openStateDatabase } from '../../../src/state/database.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { runCli } from '../../helpers/cli.js';
import { signedIn, startConsoleRig, type ConsoleClient, type ConsoleRig } from '../../helpers/console.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { serveFiles } from '../../helpers/schoolgate.js';
import { addSitedPupils } from '../../helpers/sites.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const PURPOSE = 'police%20referral%20check';

describe.skipIf(!bin)('console cases and holds on PostgreSQL, two nodes', { timeout: 300_000 }, () => {
  let cluster: PgCluster;
  let admin: pg.Client;
  let nodeA: ConsoleRig;
  let nodeB: ConsoleRig;
  let headA: ConsoleClient;
  let headB: ConsoleClient;
  let north: ConsoleClient;
  let cliArgs: string[];
  let url: string;

  const lastAccess = async () =>
    (
      await admin.query(
        'SELECT by_name, command, subject, case_ref, outcome, reason, site FROM report_access ORDER BY id DESC LIMIT 1',
      )
    ).rows[0] as Record<string, unknown> | undefined;
  const holdList = async (...extra: string[]): Promise<Hold[]> => {
    const r = await runCli([
      'hold',
      'list',
      '--by',
      'DSL',
      '--reason',
      'checking',
      '--json',
      ...extra,
      ...cliArgs,
    ]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Hold[];
  };

  beforeAll(async () => {
    cluster = await startPgCluster();
    url = await cluster.createDatabase('cases');
    // The state database (accounts included) is the trust's policy, replicated through PostgreSQL: the
    // accounts are made on A, and B, started after, applies them.
    nodeA = await startConsoleRig(
      { 'a.head.a': 'headteacher', 'a.north': 'headteacher', 'a.head.b': 'headteacher' },
      { store: { postgres: { url, node: 'gate-a' } } },
    );
    nodeB = await startConsoleRig({}, { store: { postgres: { url, node: 'gate-b' } } });
    nodeB = { ...nodeB, secrets: nodeA.secrets };
    const state = openStateDatabase(nodeA.config.dataDir);
    try {
      expect(new ConsoleAccounts(state).setSite('a.north', 'north')).toBe(true);
    } finally {
      state.close();
    }
    await addSitedPupils(nodeA.config.dataDir);
    const files = serveFiles();
    writeFileSync(
      path.join(files.dir, 'config.yaml'),
      JSON.stringify({ store: { postgres: { url, node: 'gate-cli' } } }),
    );
    cliArgs = files.args;
    admin = new pg.Client(url);
    await admin.connect();
    [headA, headB, north] = await Promise.all([
      signedIn(nodeA, 'a.head.a'),
      signedIn(nodeB, 'a.head.b'),
      signedIn(nodeA, 'a.north'),
    ]);
  }, 180_000);
  afterAll(async () => {
    await nodeA?.proxy.stop();
    await nodeB?.proxy.stop();
    await admin?.end().catch(() => undefined);
    await cluster?.stop();
  });

  it('a case opened and noted on node A is seen with its notes and looks on node B', async () => {
    const open = await headA.postForm('/cases', '/cases', {
      ref: 'C-2026-1',
      subject: 'n.pupil',
      note: 'raised by the form tutor',
    });
    expect(open.status).toBe(303);
    const note = await headA.postForm('/case?ref=C-2026-1', '/case/note', {
      ref: 'C-2026-1',
      text: 'spoke to the parents',
    });
    expect(note.status).toBe(303);
    expect((await admin.query(`SELECT subject, status FROM cases WHERE ref = 'C-2026-1'`)).rows).toEqual([
      { subject: 'n.pupil', status: 'open' },
    ]);

    expect((await headB.get('/cases')).body).toContain('C-2026-1');
    const page = await headB.get('/case?ref=C-2026-1');
    expect(page.status).toBe(200);
    expect(page.body).toContain('n.pupil');
    expect(page.body).toContain('raised by the form tutor');
    expect(page.body).toContain('spoke to the parents');
    // The looks under the case, from PostgreSQL's report_access: node A's open and note.
    expect(page.body).toContain('case open (console)');
    expect(page.body).toContain('case note (console)');

    const closed = await headB.postForm('/case?ref=C-2026-1', '/case/close', {
      ref: 'C-2026-1',
      text: 'no further action',
    });
    expect(closed.status).toBe(303);
    expect((await headA.get('/case?ref=C-2026-1')).body).toContain('Outcome: no further action');
    // A closed case takes no notes: the same refusal as on SQLite.
    const late = await headA.postForm('/case?ref=C-2026-1', '/case/note', { ref: 'C-2026-1', text: 'x' });
    expect(late.status).toBe(400);
    expect(late.body).toContain('closed');
  });

  it('refuses a case about nobody known, the refusal recorded in PostgreSQL', async () => {
    const r = await headA.postForm('/cases', '/cases', { ref: 'C-2026-9', subject: 'no.such', note: 'x' });
    expect(r.status).toBe(400);
    expect(r.body).toContain('SG_SUBJECT_UNKNOWN');
    expect(await lastAccess()).toMatchObject({
      command: 'case open (console)',
      subject: 'no.such',
      outcome: 'refused',
    });
    expect((await admin.query(`SELECT 1 FROM cases WHERE ref = 'C-2026-9'`)).rowCount).toBe(0);
  });

  it('a hold placed on A and released on B is what `hold list` on PostgreSQL shows', async () => {
    const list = await headA.get(`/holds?purpose=${PURPOSE}`);
    expect(list.status).toBe(200);
    expect(list.body).toContain('No standing holds.');
    expect(await lastAccess()).toMatchObject({ command: 'hold list (console)', outcome: 'granted' });
    const place = await headA.postForm(`/holds?purpose=${PURPOSE}`, '/holds', {
      purpose: 'police referral check',
      kind: 'user',
      value: 'n.pupil',
      reason: 'police referral 14/11',
    });
    expect(place.status).toBe(303);
    const [hold, ...more] = await holdList();
    expect(more).toEqual([]);
    expect(hold).toMatchObject({
      kind: 'user',
      value: 'n.pupil',
      reason: 'police referral 14/11',
      by: 'a.head.a (headteacher, console)',
      releasedMs: null,
    });

    const onB = await headB.get(`/holds?purpose=${PURPOSE}`);
    expect(onB.body).toContain('police referral 14/11');
    const release = await headB.postForm(`/holds?purpose=${PURPOSE}`, '/holds/release', {
      purpose: 'police referral check',
      id: String(hold!.id),
      reason: 'referral closed',
    });
    expect(release.status).toBe(303);
    expect(await holdList()).toEqual([]);
    expect(await holdList('--all')).toEqual([
      expect.objectContaining({
        id: hold!.id,
        releasedBy: 'a.head.b (headteacher, console)',
        releaseReason: 'referral closed',
      }),
    ]);
    // Released already: refused as on SQLite, nothing changed.
    const again = await headA.postForm(`/holds?purpose=${PURPOSE}`, '/holds/release', {
      id: String(hold!.id),
      reason: 'again',
    });
    expect(again.status).toBe(400);
    expect(again.body).toContain('released already');
  });

  it('refuses a site-scoped account another site’s case, the 403 recorded in PostgreSQL', async () => {
    const open = await headA.postForm('/cases', '/cases', { ref: 'C-SOUTH', subject: 's.pupil', note: 'y' });
    expect(open.status).toBe(303);
    const r = await north.get('/case?ref=C-SOUTH');
    expect(r.status).toBe(403);
    expect(r.body).toContain('SG_CONSOLE_FORBIDDEN');
    expect(r.body).not.toContain('s.pupil');
    expect(await lastAccess()).toMatchObject({
      by_name: 'a.north (headteacher, console)',
      command: 'case show C-SOUTH (console)',
      subject: 's.pupil',
      outcome: 'refused',
      site: 'north',
    });
    const mine = await north.get('/cases');
    expect(mine.body).toContain('C-2026-1');
    expect(mine.body).not.toContain('C-SOUTH');
  });

  it('a person known only by PostgreSQL’s rows: a case about them, of the site of their latest row', async () => {
    // Another node recorded the only rows of r.north (no users row on any node): the latest is north's.
    const other = await PostgresAuditStore.open({ connectionString: url, node: 'gate-c' });
    try {
      for (const [id, site, ago] of [
        ['r-1', 'south', 7_200_000],
        ['r-2', 'north', 3_600_000],
      ] as const)
        await other.record(
          auditEvent({
            id,
            time: Date.now() - ago,
            user: 'r.north',
            profile: 'pupil',
            action: 'block',
            site,
          }),
        );
    } finally {
      await other.close();
    }
    const open = await headA.postForm('/cases', '/cases', { ref: 'C-ROWS', subject: 'r.north', note: 'w' });
    expect(open.status).toBe(303);
    expect((await north.get('/case?ref=C-ROWS')).status).toBe(200);
    expect((await north.get('/cases')).body).toContain('C-ROWS');
  });

  it('with PostgreSQL stopped the pages refuse (SG_AUDIT_UNAVAILABLE), nothing shown', async () => {
    // The admin connection would end with the server: closed first, a new one after.
    await admin.end();
    await cluster.stopServer();
    try {
      for (const p of ['/cases', '/case?ref=C-2026-1', `/holds?purpose=${PURPOSE}`]) {
        const r = await headB.get(p);
        expect(r.status, p).toBeGreaterThanOrEqual(400);
        expect(r.body, p).toContain('SG_AUDIT_UNAVAILABLE');
        expect(r.body, p).not.toContain('does not yet read');
        expect(r.body, p).not.toContain('n.pupil');
      }
      const open = await headB.postForm('/cases', '/cases', { ref: 'C-DOWN', subject: 'n.pupil', note: 'z' });
      expect(open.body).toContain('SG_AUDIT_UNAVAILABLE');
    } finally {
      await cluster.startServer();
    }
    admin = new pg.Client(url);
    await admin.connect();
    expect((await admin.query(`SELECT 1 FROM cases WHERE ref = 'C-DOWN'`)).rowCount).toBe(0);
  });
});
