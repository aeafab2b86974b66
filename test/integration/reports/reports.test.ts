/**
 * Investigation reports through the real CLI over a fixture database with known counts (fixture.ts): each
 * section's numbers, access control and the access log, escaping in HTML and formula neutralising in CSV.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { withState } from '../../../src/state/store.js';
import { buildFixture, HOSTILE_TERM, type Fixture } from './fixture.js';

let f: Fixture;
let c: string[];
const PERIOD = ['--from', '2026-11-02', '--to', '2026-11-06'];
const WHY = ['--reason', 'pastoral concern'];
const HEAD = ['--case', 'C-1', '--by', 'A. Head', ...WHY];

beforeAll(async () => {
  f = await buildFixture();
  c = ['--config', f.config];
  const opened = await runCli([
    'case',
    'open',
    'C-1',
    '--subject',
    'pupil1',
    '--by',
    'A. Head',
    '--note',
    'raised by tutor',
    ...c,
  ]);
  expect(opened.code, opened.stderr).toBe(0);
});

afterAll(() => rmSync(f.dir, { recursive: true, force: true }));

async function json(args: string[]): Promise<Record<string, unknown>> {
  const r = await runCli([...args, '--format', 'json', ...c]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function accessLog(): {
  command: string;
  by_name: string | null;
  os_user: string;
  outcome: string;
  reason: string | null;
  subject: string | null;
  domain: string | null;
  case_ref: string | null;
}[] {
  const db = new Database(f.dbPath, { readonly: true });
  try {
    return db.prepare('SELECT * FROM report_access ORDER BY id').all() as never;
  } finally {
    db.close();
  }
}

describe('report user', () => {
  it('gives the summary, flagged domains, searches, self-reports, continues and timeline of one person', async () => {
    const d = (await json(['report', 'user', 'pupil1', ...PERIOD, ...HEAD])) as {
      summary: Record<string, number>;
      categories: Record<string, Record<string, number>>;
      flaggedDomains: { host: string; requests: number; blocked: number; firstMs: number; lastMs: number }[];
      searches: { searchTerm: string; searchEngine: string }[];
      selfReports: { note: string; reason: string }[];
      continues: unknown[];
      timeline: {
        days: Record<string, { requests: number; flagged: number }>;
        hours: { requests: number; flagged: number }[];
      };
      verification: { ok: boolean; checked: number };
      rows: { id: string; user: string }[];
      caseRef: string;
      pulledBy: string;
    };
    expect(d.summary).toMatchObject({
      requests: 14,
      allowed: 5,
      warned: 1,
      continued: 3,
      blocked: 4,
      other: 1,
      flagged: 4,
    });
    expect(d.categories['gambling']).toMatchObject({ requests: 3, blocked: 3 });
    expect(d.categories['social']).toMatchObject({ requests: 4, warned: 1, continued: 3 });
    expect(d.flaggedDomains.map((x) => [x.host, x.requests, x.blocked])).toEqual([
      ['bet.test', 2, 2],
      ['www.bet.test', 1, 1],
      ['blocked.example', 1, 1],
    ]);
    expect(d.flaggedDomains[0]!.firstMs).toBe(Date.UTC(2026, 10, 2, 10, 0, 0));
    expect(d.flaggedDomains[0]!.lastMs).toBe(Date.UTC(2026, 10, 2, 10, 0, 30));
    expect(d.searches.map((s) => [s.searchEngine, s.searchTerm])).toEqual([
      ['google', 'how to gamble'],
      ['bing', HOSTILE_TERM],
    ]);
    expect(d.selfReports).toHaveLength(1);
    expect(d.selfReports[0]!.note).toBe('I clicked an advert by mistake');
    expect(d.selfReports[0]!.reason).toBe(`self-report:${f.ids['adult']}`);
    expect(d.continues).toHaveLength(1);
    expect(d.timeline.days).toEqual({
      '2026-11-02': { requests: 6, flagged: 3 },
      '2026-11-03': { requests: 5, flagged: 0 },
      '2026-11-04': { requests: 3, flagged: 1 },
    });
    expect(d.timeline.hours[10]).toEqual({ requests: 3, flagged: 3 });
    expect(d.timeline.hours[13]).toEqual({ requests: 4, flagged: 0 });
    expect(d.verification).toMatchObject({ ok: true, checked: 14 });
    expect(d.rows).toHaveLength(14);
    expect(new Set(d.rows.map((r) => r.user))).toEqual(new Set(['pupil1']));
    expect(d.caseRef).toBe('C-1');
    expect(d.pulledBy).toBe('A. Head');
  });

  it('prints every section in text, with the header and the tamper check', async () => {
    const r = await runCli(['report', 'user', 'pupil1', ...PERIOD, ...HEAD, ...c]);
    expect(r.code, r.stderr).toBe(0);
    for (const heading of [
      'Whose records  pupil1',
      'Period         2026-11-02 to 2026-11-06 inclusive (Europe/London)',
      'Case           C-1',
      'Tamper check   verified (14 rows)',
      'Flagged domains',
      'Search terms',
      'Self-reports',
      'Warnings continued',
      'Timeline',
      'Flagged attempts in full',
      '4 flagged rows are listed; 10 other rows',
    ])
      expect(r.stdout).toContain(heading);
    // A CR LF from a logged URL is made visible, never printed as a line break.
    expect(r.stdout).not.toContain('\r\nFAKE LINE');
  });

  it('counts one whole local day when --from and --to name the same day', async () => {
    const d = (await json([
      'report',
      'user',
      'pupil1',
      '--from',
      '2026-11-03',
      '--to',
      '2026-11-03',
      ...HEAD,
    ])) as {
      summary: { requests: number };
    };
    expect(d.summary.requests).toBe(5);
  });

  it('escapes everything from the database in HTML and sets a CSP; no script, no external asset', async () => {
    const r = await runCli(['report', 'user', 'pupil1', ...PERIOD, ...HEAD, '--format', 'html', ...c]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('=HYPERLINK(&quot;http://evil.test/&quot;,&quot;click&quot;)');
    // The context report lists every row, the hostile address among them.
    const around = await runCli([
      'report',
      'around',
      f.ids['adult']!,
      '--minutes',
      '10',
      ...HEAD,
      '--format',
      'html',
      ...c,
    ]);
    expect(around.code, around.stderr).toBe(0);
    const page = around.stdout;
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toMatch(/<img/i);
    expect(page).toContain(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;␍␊FAKE LINE',
    );
    expect(page).toContain('Content-Security-Policy');
    expect(page).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    expect(r.stdout).toContain('<svg');
    expect(r.stdout).toContain('@page{size:A4');
  });

  it('exports every row as CSV with spreadsheet formulas neutralised', async () => {
    const r = await runCli(['report', 'user', 'pupil1', ...PERIOD, ...HEAD, '--format', 'csv', ...c]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith('reference,seq,time_local,')).toBe(true);
    expect(r.stdout).toContain(`"'=HYPERLINK(""http://evil.test/"",""click"")"`);
    expect(r.stdout).not.toMatch(/(^|,)=HYPERLINK/m);
    // 14 records (one has a quoted CR LF inside a cell).
    expect(r.stdout.split('\r\n').filter((l) => /^[0-9a-f-]{36},/.test(l))).toHaveLength(14);
  });

  it('writes --out as a new owner-only file and never overwrites one', async () => {
    const out = path.join(f.dir, 'r.html');
    const r = await runCli([
      'report',
      'user',
      'pupil1',
      ...PERIOD,
      ...HEAD,
      '--format',
      'html',
      '--out',
      out,
      ...c,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('Web activity report: pupil1');
    const again = await runCli(['report', 'user', 'pupil1', ...PERIOD, ...HEAD, '--out', out, ...c]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('cannot create the file');
  });
});

describe('access to monitoring information', () => {
  it('refuses a per-person report without --case, and records the refusal', async () => {
    const before = accessLog().length;
    const r = await runCli(['report', 'user', 'pupil1', ...PERIOD, '--by', 'A. Head', ...c]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SG_REPORT_REFUSED');
    expect(r.stderr).toContain('--case');
    expect(r.stdout).toBe('');
    const log = accessLog().slice(before);
    expect(log).toEqual([
      expect.objectContaining({
        command: 'report user',
        subject: 'pupil1',
        outcome: 'refused',
        by_name: 'A. Head',
      }),
    ]);
  });

  it('refuses domain and context reports without --case or --by, and reviews without --by', async () => {
    for (const args of [
      ['report', 'domain', 'bet.test', '--by', 'X'],
      ['report', 'domain', 'bet.test', '--case', 'C-1'],
      ['report', 'around', f.ids['adult']!, '--by', 'X'],
      ['report', 'flagged'],
      ['report', 'weekly'],
    ]) {
      const r = await runCli([...args, ...c]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain('SG_REPORT_REFUSED');
    }
  });

  it('refuses a case that does not exist', async () => {
    const r = await runCli([
      'report',
      'user',
      'pupil1',
      ...PERIOD,
      '--case',
      'NOPE',
      '--by',
      'A. Head',
      ...WHY,
      ...c,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('case NOPE does not exist');
  });

  it('refuses an OS user not in reports.allowedOsUsers, with a clear message, and records it', async () => {
    const before = accessLog().length;
    const r = await runCli(['report', 'user', 'pupil1', ...PERIOD, ...HEAD, '--config', f.otherConfig]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`OS user ${os.userInfo().username} is not in reports.allowedOsUsers`);
    expect(accessLog().slice(before)).toEqual([
      expect.objectContaining({ outcome: 'refused', os_user: os.userInfo().username, case_ref: 'C-1' }),
    ]);
    const caseShow = await runCli(['case', 'show', 'C-1', '--config', f.otherConfig]);
    expect(caseShow.code).toBe(1);
  });

  it('by default allows only the OS user that owns the data directory', async () => {
    const cfg = path.join(f.dir, 'default.yaml');
    writeFileSync(cfg, `dataDir: ${f.dataDir}\ntimeZone: Europe/London\n`);
    const r = await runCli([
      'report',
      'flagged',
      '--since',
      '2026-11-01',
      '--by',
      'DSL',
      ...WHY,
      '--config',
      cfg,
    ]);
    expect(r.code, r.stderr).toBe(0); // the tests' user created the data directory
  });

  it('lists every report pulled in the access log: who, OS user, command, whose records, case', async () => {
    await json(['report', 'domain', 'bet.test', ...PERIOD, ...HEAD]);
    const d = (await json(['report', 'access-log', '--by', 'A. Head', ...WHY])) as {
      entries: {
        command: string;
        by: string;
        osUser: string;
        subject: string;
        domain: string;
        caseRef: string;
        outcome: string;
      }[];
    };
    const me = os.userInfo().username;
    expect(d.entries).toContainEqual(
      expect.objectContaining({
        command: 'report user',
        by: 'A. Head',
        osUser: me,
        subject: 'pupil1',
        caseRef: 'C-1',
        outcome: 'granted',
      }),
    );
    expect(d.entries).toContainEqual(
      expect.objectContaining({
        command: 'report domain',
        domain: 'bet.test',
        caseRef: 'C-1',
        outcome: 'granted',
      }),
    );
    expect(d.entries.some((e) => e.outcome === 'refused')).toBe(true);
    // The access-log listing itself is on the record too.
    expect(accessLog().at(-1)).toMatchObject({ command: 'report access-log', outcome: 'granted' });
  });
});

describe('other reports', () => {
  it('report domain: who reached a domain and its subdomains', async () => {
    // Under a case about both (a case covers only its subjects: case-scope.test.ts).
    const both = ['case', 'open', 'C-D', '--subject', 'pupil1', '--subject', 'pupil2', '--by', 'A. Head'];
    expect((await runCli([...both, ...c])).code).toBe(0);
    const d = (await json([
      'report',
      'domain',
      'bet.test',
      ...PERIOD,
      '--case',
      'C-D',
      '--by',
      'A. Head',
      ...WHY,
    ])) as {
      hosts: string[];
      summary: { requests: number; blocked: number };
      people: { user: string; requests: number }[];
    };
    expect(d.hosts.sort()).toEqual(['bet.test', 'www.bet.test']);
    expect(d.summary).toMatchObject({ requests: 7, blocked: 7 });
    expect(d.people.map((p) => [p.user, p.requests])).toEqual([
      ['pupil2', 4],
      ['pupil1', 3],
    ]);
    const none = (await json(['report', 'domain', 'test', ...PERIOD, ...HEAD])) as { hosts: string[] };
    expect(none.hosts).toContain('allowed.test'); // a parent label matches its subdomains
    const notPrefix = (await json(['report', 'domain', 'et.test', ...PERIOD, ...HEAD])) as {
      hosts: string[];
    };
    expect(notPrefix.hosts).toEqual([]); // never bet.test
  });

  it('report around: everything the same person did either side of one row', async () => {
    const d = (await json(['report', 'around', f.ids['adult']!, '--minutes', '10', ...HEAD])) as {
      user: string;
      rows: { id: string; action: string }[];
    };
    expect(d.user).toBe('pupil1');
    expect(d.rows.map((r) => r.action)).toEqual(['block', 'self-report', 'allow']);
    const wide = (await json(['report', 'around', f.ids['adult']!, '--minutes', '1440', ...HEAD])) as {
      rows: unknown[];
    };
    expect(wide.rows).toHaveLength(8);
  });

  it('report flagged: people ranked by flagged attempts', async () => {
    const d = (await json([
      'report',
      'flagged',
      '--since',
      '2026-11-01',
      '--to',
      '2026-11-30',
      '--by',
      'DSL',
      ...WHY,
    ])) as {
      people: { user: string; flagged: number; categories: Record<string, number> }[];
    };
    expect(d.people.map((p) => [p.user, p.flagged])).toEqual([
      ['pupil1', 4],
      ['pupil2', 4],
    ]);
    expect(d.people[0]!.categories).toEqual({ gambling: 3, adult: 1 });
  });

  it('report weekly: flagged by person and category, self-reports, continues and the chain head', async () => {
    // Unblock requests of the period (state database): one answered, one waiting; one from before it.
    await withState(f.dataDir, (s) => {
      const ask = (site: string, at: string) =>
        s.requests.submit(
          {
            subject: 'user:pupil1',
            user: 'pupil1',
            clientIp: '10.0.0.1',
            profile: 'pupil',
            site,
            url: `http://${site}/`,
            reason: `need ${site}`,
            blockRef: '',
          },
          Date.parse(at),
        );
      ask('early.example', '2026-10-20T10:00:00Z');
      const denied = ask('games.example', '2026-11-03T10:00:00Z');
      if (denied.ok)
        s.requests.decide(
          denied.request.id,
          { status: 'denied', by: 'IT', note: 'no', exceptionId: null },
          Date.parse('2026-11-04T10:00:00Z'),
        );
      ask('revise.example', '2026-11-05T10:00:00Z');
    });
    const weekly = ['report', 'weekly', '--since', '2026-11-01', '--to', '2026-11-30', '--by', 'DSL', ...WHY];
    const d = (await json(weekly)) as {
      flaggedByPerson: { user: string; total: number; categories: Record<string, number> }[];
      selfReports: unknown[];
      continues: unknown[];
      unblockRequests: { site: string; status: string; note: string | null }[];
      chainHead: { seq: number; hash: string };
    };
    expect(d.unblockRequests.map((r) => [r.site, r.status, r.note])).toEqual([
      ['games.example', 'denied', 'no'],
      ['revise.example', 'pending', null],
    ]);
    const text = await runCli([...weekly, ...c]);
    expect(text.stdout).toContain('revise.example');
    expect(text.stdout).toContain('denied by IT: no');
    expect(d.flaggedByPerson).toEqual([
      { user: 'pupil1', profiles: ['pupil'], total: 4, categories: { gambling: 3, adult: 1 } },
      { user: 'pupil2', profiles: ['pupil'], total: 4, categories: { gambling: 4 } },
    ]);
    expect(d.selfReports).toHaveLength(1);
    expect(d.continues).toHaveLength(1);
    expect(d.chainHead.seq).toBe(28);
  });

  it('case show lists the subject, notes and the reports pulled under the case', async () => {
    const note = await runCli(['case', 'note', 'C-1', '--by', 'DSL', 'spoke', 'to', 'parents', ...c]);
    expect(note.code, note.stderr).toBe(0);
    const d = (await json(['case', 'show', 'C-1', '--by', 'DSL', ...WHY])) as {
      case: { subject: string; status: string };
      notes: { author: string; text: string }[];
      reports: { command: string }[];
    };
    expect(d.case).toMatchObject({ subject: 'pupil1', status: 'open' });
    expect(d.notes.map((n) => [n.author, n.text])).toEqual([
      ['A. Head', 'raised by tutor'],
      ['DSL', 'spoke to parents'],
    ]);
    expect(d.reports.map((r) => r.command)).toContain('report user');
  });

  it('rejects a date that is not one', async () => {
    const r = await runCli(['report', 'user', 'pupil1', '--from', '2026-02-30', ...HEAD, ...c]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not a date');
  });

  it('treats a hostile filter as a literal (bound parameters)', async () => {
    // Read as a literal it names nobody ("no such user"); read as SQL, OR 1=1 would have found rows.
    const hostile = "x' OR 1=1 --";
    const r = await runCli(['report', 'user', hostile, ...PERIOD, ...HEAD, '--format', 'json', ...c]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no such user ${JSON.stringify(hostile)}`);
    expect(accessLog().at(-1)).toMatchObject({ subject: hostile, outcome: 'refused' });
  });

  it('never creates an audit database where there is none', async () => {
    const cfg = path.join(f.dir, 'empty.yaml');
    const empty = path.join(f.dir, 'nodata');
    writeFileSync(
      cfg,
      `dataDir: ${empty}\nreports:\n  allowedOsUsers: [${JSON.stringify(os.userInfo().username)}]\n`,
    );
    const r = await runCli(['report', 'flagged', '--by', 'DSL', ...WHY, '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('there is no audit database');
    expect(existsSync(path.join(empty, 'audit.sqlite'))).toBe(false);
  });
});
