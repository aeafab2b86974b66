/**
 * `schoolgate alerts list | show | ack | test`, the alert sections of the reports and alert retention,
 * through the real CLI over a real audit database: the reports fixture (../reports/fixture.ts) plus alerts
 * written with the store the proxy's writer uses (SqliteAuditStore.writeAlert), and loopback webhook and
 * SMTP receivers for `alerts test`.
 */
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteAuditStore, type AuditEvent } from '../../../src/audit/index.js';
import type { AlertWrite } from '../../../src/audit/alerts-table.js';
import { runCli } from '../../helpers/cli.js';
import {
  closedPort,
  loopbackCert,
  startSmtpReceiver,
  startWebhookReceiver,
} from '../../helpers/alert-receivers.js';
import { buildFixture, ev, NOV, type Fixture } from '../reports/fixture.js';
import { alertWrite } from '../../helpers/alert-setup.js';

let f: Fixture;
let c: string[];
const me = os.userInfo().username;
const DSL = ['--by', 'J. Smith (DSL)'];
/** Reports need a purpose (alerts commands do not take one). */
const WHY = ['--reason', 'safeguarding review'];
const HOSTILE_TERM = 'kill myself\u001b[2J\u202etxt.exe';
const LONG_AGO = Date.now() - 400 * 86_400_000;

/** The searches pupil1's danger alert references. */
const searches: AuditEvent[] = [0, 1].map((i) =>
  ev({
    time: NOV(3, 15, i),
    scheme: 'https',
    port: 443,
    host: 'www.google.com',
    path: '/search?q=how+to+k1ll+myself',
    kind: 'inspected',
    searchTerm: 'how to k1ll myself',
    searchEngine: 'google',
  }),
);

/** pupil1's self-harm alert at 15:00 on 3 November unless `over` says otherwise. */
const alert = (id: string, over: Partial<AlertWrite>): AlertWrite =>
  alertWrite({ id, firstTime: NOV(3, 15, 0), lastTime: NOV(3, 15, 0), ...over });

const A = {
  danger: '0197a000-0000-7000-8000-000000000001',
  repeated: '0197a000-0000-7000-8000-000000000002',
  guest: '0197a000-0000-7000-8000-000000000003',
  newcomer: '0197a000-0000-7000-8000-000000000004',
  oldHeld: '0197a000-0000-7000-8000-000000000005',
  oldGone: '0197a000-0000-7000-8000-000000000006',
  oldGuest: '0197a000-0000-7000-8000-000000000007',
};

beforeAll(async () => {
  f = await buildFixture();
  c = ['--config', f.config];
  const store = openSqliteAuditStore({ path: f.dbPath });
  for (const e of searches) await store.record(e);
  const writes: AlertWrite[] = [
    alert(A.danger, {
      lastTime: NOV(3, 15, 1),
      count: 2,
      searchTerm: 'how to k1ll myself',
      phrase: 'kill myself',
      url: 'https://www.google.com/search?q=how+to+k1ll+myself',
      auditRowIds: [...searches.map((e) => e.id), '0197ffff-0000-7000-8000-00000000dead'],
    }),
    // pupil2: more requests counted than pupil1's danger alert, but only a warning.
    alert(A.repeated, {
      user: 'pupil2',
      rule: 'repeated:blocked-flagged',
      list: null,
      severity: 'warning',
      firstTime: NOV(3, 12, 0),
      lastTime: NOV(3, 12, 4),
      count: 5,
    }),
    // A guest: no user, a hostile search term (terminal escape, bidi override).
    alert(A.guest, {
      user: null,
      profile: 'guest',
      device: 'LAB-PC-07',
      clientIp: '10.0.9.9',
      rule: 'keyword:selfharm',
      severity: 'advisory',
      firstTime: NOV(4, 9, 0),
      lastTime: NOV(4, 9, 0),
      searchTerm: HOSTILE_TERM,
      phrase: 'kill myself',
    }),
    // pupil7: a danger alert and no flagged attempt at all.
    alert(A.newcomer, {
      user: 'pupil7',
      rule: 'category:extremism',
      list: 'extremism',
      url: 'http://extremist.example/',
      firstTime: NOV(5, 10, 0),
      lastTime: NOV(5, 10, 0),
    }),
    // Past retention (365 days in the fixture's config).
    alert(A.oldHeld, { user: 'pupil1', firstTime: LONG_AGO, lastTime: LONG_AGO }),
    alert(A.oldGone, { user: 'pupil3', firstTime: LONG_AGO, lastTime: LONG_AGO }),
    alert(A.oldGuest, { user: null, firstTime: LONG_AGO, lastTime: LONG_AGO }),
  ];
  for (const w of writes) store.writeAlert(w);
  await store.close();
  const opened = await runCli(['case', 'open', 'C-1', '--subject', 'pupil1', ...DSL, ...c]);
  expect(opened.code, opened.stderr).toBe(0);
});

afterAll(() => rmSync(f.dir, { recursive: true, force: true }));

function query<T>(sql: string, ...params: unknown[]): T[] {
  const db = new Database(f.dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

const lastAccess = () =>
  query<{
    command: string;
    by_name: string;
    os_user: string;
    subject: string;
    outcome: string;
    reason: string;
  }>('SELECT * FROM report_access ORDER BY id DESC LIMIT 1')[0]!;

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('alerts list', () => {
  it('--json: one object a line, newest first, times in ISO, recorded with the reader', async () => {
    const r = await runCli(['alerts', 'list', '--json', '--since', '2026-11-01', ...DSL, ...c]);
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l['id'])).toEqual([A.newcomer, A.guest, A.danger, A.repeated]);
    expect(lines[2]).toMatchObject({
      id: A.danger,
      user: 'pupil1',
      rule: 'keyword:selfharm',
      severity: 'danger',
      count: 2,
      firstTime: '2026-11-03T15:00:00.000Z',
      lastTime: '2026-11-03T15:01:00.000Z',
      searchTerm: 'how to k1ll myself',
      status: 'open',
    });
    expect(lines[1]!['searchTerm']).toBe(HOSTILE_TERM); // the value survives; its bytes are escaped
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).not.toContain('\u202e');
    expect(lastAccess()).toMatchObject({
      command: 'alerts list',
      by_name: 'J. Smith (DSL)',
      os_user: me,
      outcome: 'granted',
    });
  });

  it('text: local times, who, the matched phrase marked, control characters made visible', async () => {
    const r = await runCli([
      'alerts',
      'list',
      '--severity',
      'advisory',
      '--since',
      '2026-11-01',
      ...DSL,
      ...c,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('2026-11-03 15:01:00'); // Europe/London is GMT in November
    expect(r.stdout).toContain('how to »k1ll myself«');
    expect(r.stdout).toContain('(no user) (guest, LAB-PC-07, 10.0.9.9)');
    expect(r.stdout).toContain('»kill myself«␛[2J\ufffdtxt.exe');
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).not.toContain('\u202e');
  });

  it('filters by severity (that or worse) and by user', async () => {
    const danger = jsonLines(
      (await runCli(['alerts', 'list', '--json', '--severity', 'danger', ...DSL, ...c])).stdout,
    );
    expect(danger.map((l) => l['id']).sort()).toEqual(
      [A.danger, A.newcomer, A.oldHeld, A.oldGone, A.oldGuest].sort(),
    );
    const warning = jsonLines(
      (await runCli(['alerts', 'list', '--json', '--severity', 'warning', '--user', 'pupil2', ...DSL, ...c]))
        .stdout,
    );
    expect(warning.map((l) => l['id'])).toEqual([A.repeated]);
    const bad = await runCli(['alerts', 'list', '--severity', 'grave', ...DSL, ...c]);
    expect(bad.code).not.toBe(0);
  });

  it('refuses an OS user not in reports.allowedOsUsers, and records it', async () => {
    const other = await runCli(['alerts', 'list', '--json', ...DSL, '--config', f.otherConfig]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('SG_REPORT_REFUSED');
    expect(other.stderr).toContain(`OS user ${me} is not in reports.allowedOsUsers`);
    expect(other.stdout).toBe('');
    expect(lastAccess()).toMatchObject({ command: 'alerts list', os_user: me, outcome: 'refused' });
  });

  it('refuses show to that OS user without saying whether the id exists', async () => {
    const show = await runCli(['alerts', 'show', A.danger, ...DSL, '--config', f.otherConfig]);
    expect(show.code).toBe(1);
    expect(show.stdout).toBe('');
    const unknownToOther = await runCli(['alerts', 'show', 'nope', ...DSL, '--config', f.otherConfig]);
    expect(unknownToOther.stderr).toContain('SG_REPORT_REFUSED'); // not told whether the id exists
  });

  it('refuses a reader without --by, and records it', async () => {
    const noBy = await runCli(['alerts', 'list', ...c]);
    expect(noBy.code).toBe(1);
    expect(noBy.stderr).toContain('no --by NAME');
    expect(lastAccess()).toMatchObject({ command: 'alerts list', outcome: 'refused' });
  });
});

describe('alerts show', () => {
  it('gives the alert and the audit rows it references, and records whose alert was read', async () => {
    const r = await runCli(['alerts', 'show', A.danger, ...DSL, ...c]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Phrase matched: kill myself');
    expect(r.stdout).toContain('how to »k1ll myself«');
    for (const e of searches) expect(r.stdout).toContain(e.id);
    expect(r.stdout).toMatch(
      /2026-11-03 15:00:00\s+allow\s+www\.google\.com\s+\/search\?q=how\+to\+k1ll\+myself/,
    );
    expect(r.stdout).toContain(
      'Requests counted on this alert: 2; referenced: 3; no longer in the audit log (purged): 1.',
    );
    expect(lastAccess()).toMatchObject({
      command: `alerts show ${A.danger}`,
      subject: 'pupil1',
      by_name: 'J. Smith (DSL)',
      outcome: 'granted',
    });

    const j = JSON.parse((await runCli(['alerts', 'show', A.danger, '--json', ...DSL, ...c])).stdout) as {
      rows: { id: string; action: string; host: string; path: string; searchTerm: string }[];
    };
    expect(j.rows).toEqual(
      searches.map((e) => ({
        id: e.id,
        timeMs: e.time,
        action: 'allow',
        host: 'www.google.com',
        path: '/search?q=how+to+k1ll+myself',
        searchTerm: 'how to k1ll myself',
      })),
    );
  });

  it('refuses an unknown id with SG_ALERT_UNKNOWN, and records the refusal', async () => {
    const r = await runCli(['alerts', 'show', 'no-such-alert', ...DSL, ...c]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SG_ALERT_UNKNOWN');
    expect(lastAccess()).toMatchObject({
      command: 'alerts show no-such-alert',
      outcome: 'refused',
      reason: 'there is no alert no-such-alert',
    });
  });
});

describe('alerts ack', () => {
  it('records who, when, as which OS user and the note; --open then leaves it out; never overwritten', async () => {
    const before = Date.now();
    const r = await runCli(['alerts', 'ack', A.danger, '--note', 'spoke to pupil with HoY', ...DSL, ...c]);
    expect(r.code, r.stderr).toBe(0);
    const [row] = query<Record<string, unknown>>('SELECT * FROM alerts WHERE id = ?', A.danger);
    expect(row).toMatchObject({
      status: 'acked',
      acked_by: 'J. Smith (DSL)',
      acked_os_user: me,
      ack_note: 'spoke to pupil with HoY',
    });
    expect(row!['acked_ms']).toBeGreaterThanOrEqual(before);
    expect(lastAccess()).toMatchObject({
      command: `alerts ack ${A.danger}`,
      subject: 'pupil1',
      by_name: 'J. Smith (DSL)',
      os_user: me,
      outcome: 'granted',
    });

    const open = jsonLines(
      (await runCli(['alerts', 'list', '--open', '--json', '--since', '2026-11-01', ...DSL, ...c])).stdout,
    );
    expect(open.map((l) => l['id'])).toEqual([A.newcomer, A.guest, A.repeated]);

    const again = await runCli(['alerts', 'ack', A.danger, '--note', 'second', '--by', 'Other', ...c]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('SG_ALERT_ACKED');
    expect(query('SELECT ack_note, acked_by FROM alerts WHERE id = ?', A.danger)).toEqual([
      { ack_note: 'spoke to pupil with HoY', acked_by: 'J. Smith (DSL)' },
    ]);
  });

  it('refuses an unknown id, a missing --by and a missing --note', async () => {
    const unknown = await runCli(['alerts', 'ack', 'nope', '--note', 'x', ...DSL, ...c]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('SG_ALERT_UNKNOWN');
    const noBy = await runCli(['alerts', 'ack', A.repeated, '--note', 'x', ...c]);
    expect(noBy.code).toBe(1);
    expect(noBy.stderr).toContain('SG_REPORT_REFUSED');
    const noNote = await runCli(['alerts', 'ack', A.repeated, ...DSL, ...c]);
    expect(noNote.code).not.toBe(0);
    expect(query('SELECT status FROM alerts WHERE id = ?', A.repeated)).toEqual([{ status: 'open' }]);
  });
});

describe('alerts in the reports', () => {
  const PERIOD = ['--from', '2026-11-02', '--to', '2026-11-06', '--case', 'C-1', ...DSL, ...WHY];

  it('report user: a "Safeguarding alerts" section with the matched term marked (text, HTML, JSON)', async () => {
    const t = await runCli(['report', 'user', 'pupil1', ...PERIOD, ...c]);
    expect(t.code, t.stderr).toBe(0);
    const section = t.stdout.slice(
      t.stdout.indexOf('Safeguarding alerts'),
      t.stdout.indexOf('Flagged domains'),
    );
    expect(section).toContain('danger');
    expect(section).toContain('keyword:selfharm');
    expect(section).toContain('how to »k1ll myself«');
    expect(section).not.toContain('pupil2');
    // The search itself is marked in the person's search terms too.
    expect(t.stdout.slice(t.stdout.indexOf('Search terms'))).toContain('how to »k1ll myself«');

    const h = await runCli(['report', 'user', 'pupil1', ...PERIOD, '--format', 'html', ...c]);
    expect(h.stdout).toContain('how to <mark>k1ll myself</mark>');
    const j = JSON.parse(
      (await runCli(['report', 'user', 'pupil1', ...PERIOD, '--format', 'json', ...c])).stdout,
    ) as {
      alerts: { id: string }[];
    };
    expect(j.alerts.map((a) => a.id)).toEqual([A.danger]);
  });

  it('report flagged: danger alerts first, then warnings, then flagged attempts', async () => {
    const args = ['report', 'flagged', '--since', '2026-11-01', '--to', '2026-11-30', ...DSL, ...WHY, ...c];
    const d = JSON.parse((await runCli([...args, '--format', 'json'])).stdout) as {
      people: { user: string; flagged: number; alerts: { danger: number; warning: number; count: number } }[];
    };
    expect(d.people.map((p) => [p.user, p.alerts.danger, p.alerts.warning, p.flagged])).toEqual([
      ['pupil1', 1, 0, 4], // danger, 2 requests counted
      ['pupil7', 1, 0, 0], // danger, 1 request: before pupil2 although never flagged
      ['pupil2', 0, 1, 4], // a warning that counted 5 requests
      ['(no user)', 0, 0, 0], // advisory only
    ]);
    const t = await runCli(args);
    expect(t.stdout).toContain('Ranked by safeguarding alerts, then by flagged attempts');
    expect(t.stdout).toContain('Safeguarding alerts');
  });

  it('report weekly: the period’s alerts, with the flagged rows in alert categories kept apart', async () => {
    const args = ['report', 'weekly', '--since', '2026-11-01', '--to', '2026-11-30', ...DSL, ...WHY, ...c];
    const d = JSON.parse((await runCli([...args, '--format', 'json'])).stdout) as {
      safeguardingAlerts: { id: string }[];
    };
    expect(d.safeguardingAlerts.map((a) => a.id)).toEqual([A.newcomer, A.danger, A.repeated, A.guest]);
    const t = await runCli(args);
    expect(t.stdout).toContain('how to »k1ll myself«');
    expect(t.stdout).toContain('Flagged attempts in alert categories');
  });
});

describe('audit purge and alerts', () => {
  it('deletes alerts past retention except those of a person with an open case, and counts them', async () => {
    const r = await runCli(['audit', 'purge', '--json', '--by', 'IT', '--reason', 'retention', ...c]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ alertsDeleted: 2, alertsHeld: 1 });
    const ids = query<{ id: string }>('SELECT id FROM alerts').map((a) => a.id);
    expect(ids.sort()).toEqual([A.danger, A.repeated, A.guest, A.newcomer, A.oldHeld].sort());
  });
});

describe('alerts test', () => {
  it('sends one test alert through every configured sink and says each worked', async () => {
    const webhook = await startWebhookReceiver();
    const cert = loopbackCert(f.dir);
    const smtp = await startSmtpReceiver({ tls: cert, user: 'sg', pass: 'smtp-pass-123' });
    try {
      const secret = path.join(f.dir, 'webhook.secret');
      writeFileSync(secret, 'whsec-0123456789abcdef\n', { mode: 0o600 });
      const password = path.join(f.dir, 'smtp.password');
      writeFileSync(password, 'smtp-pass-123\n', { mode: 0o600 });
      const cfg = path.join(f.dir, 'sinks.yaml');
      writeFileSync(
        cfg,
        [
          `dataDir: ${f.dataDir}`,
          'alerts:',
          '  webhook:',
          `    url: ${webhook.url}`,
          `    secretFile: ${secret}`,
          '  email:',
          '    host: 127.0.0.1',
          `    port: ${smtp.port}`,
          '    from: schoolgate@school.example',
          '    to: [dsl@school.example]',
          '    user: sg',
          `    passwordFile: ${password}`,
          `    caFile: ${cert.file}`,
          '',
        ].join('\n'),
      );
      const r = await runCli(['alerts', 'test', '--config', cfg]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['email: ok', 'log: ok', 'webhook: ok']);
      const [post] = await webhook.waitFor(1);
      expect(JSON.parse(post!.raw)).toMatchObject({ test: true });
      const [mail] = await smtp.waitFor(1);
      expect(mail!.secure).toBe(true);
      expect(mail!.to).toEqual(['dsl@school.example']);
    } finally {
      await webhook.close();
      await smtp.close();
    }
  });

  it('exits non-zero with SG_ALERT_SINK_FAILED, naming the sink that failed and why', async () => {
    const secret = path.join(f.dir, 'webhook2.secret');
    writeFileSync(secret, 'whsec-0123456789abcdef\n', { mode: 0o600 });
    const cfg = path.join(f.dir, 'down.yaml');
    const port = await closedPort();
    writeFileSync(
      cfg,
      `dataDir: ${f.dataDir}\nalerts:\n  webhook:\n    url: http://127.0.0.1:${port}/hook\n    secretFile: ${secret}\n`,
    );
    const r = await runCli(['alerts', 'test', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('log: ok');
    expect(r.stdout).toMatch(/webhook: FAILED: .+/);
    expect(r.stderr).toContain('SG_ALERT_SINK_FAILED');
    expect(r.stderr).toContain('webhook');
    expect(r.stderr).not.toContain('whsec-0123456789abcdef');
  });
});
