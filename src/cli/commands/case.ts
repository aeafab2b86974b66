/** `schoolgate case ...`: investigation case records (subject, notes, reports pulled, outcome) and holds. */
import type { Command } from 'commander';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { sqliteCaseStore, type CaseStore } from '../../audit/case-store.js';
import type { CaseNote } from '../../audit/cases.js';
import type { ReportFormat } from '../../reports/run.js';
import { configFrom, withCommonOptions, type CommonOptions } from '../common.js';
import {
  parseSubjects,
  withAdmin,
  withSubjectOptions,
  type Reports,
  type SubjectOptions,
} from './admin-access.js';
import { withAdminBackend, type AdminBackend } from './pg-admin.js';

interface CaseOptions extends CommonOptions, SubjectOptions {
  by?: string;
  note?: string;
  outcome?: string;
  reason?: string;
  format?: ReportFormat;
  out?: string;
}

const FORMATS: readonly ReportFormat[] = ['text', 'html', 'csv', 'json'];

const pgCases = async (pool: pg.Pool): Promise<CaseStore> =>
  (await import('../../audit/postgres/cases.js')).pgCaseStore(pool);

/** The cases of the configured store (config.store picks SQLite or PostgreSQL). */
const withCases = <T>(opts: CaseOptions, run: (backend: AdminBackend<CaseStore>) => Promise<T>) =>
  withAdminBackend(
    configFrom(opts),
    (_r: Reports, db: Database.Database) => sqliteCaseStore(db),
    pgCases,
    run,
  );

export function registerCase(program: Command): void {
  const cases = program
    .command('case')
    .description('investigation cases: an open case holds its subject’s records from purging');

  withSubjectOptions(withCommonOptions(cases.command('open')), 'the case is about')
    .description(
      'open a case about its subjects: reports under it cover only them, and their records are held until it is closed',
    )
    .argument('<ref>', 'case reference, e.g. 2026-014')
    .option('--by <name>', 'your name')
    .option('--note <text>', 'a first note: what happened, who raised it')
    .addHelpText(
      'after',
      '\nEvery subject must exist: a user (users list, or in the audit log), a device (devices list), or an address.\n\nExamples:\n  schoolgate case open 2026-014 --subject j.smith --by "A. Head"\n  schoolgate case open 2026-015 --subject-address 10.0.3.17 --by "DSL"',
    )
    .action(async (ref: string, opts: CaseOptions) => {
      const { subjects, label } = await parseSubjects(opts);
      await withCases(opts, async (cases) => {
        const precheck = await cases.precheck(subjects);
        await withAdmin(
          opts,
          'case open',
          { caseRef: ref, subject: label, needsBy: true, precheck: (r, db) => precheck(r, db) },
          async (r, db, _c, osUser, now) => {
            const c = await cases
              .at(r, db)
              .open({ ref, subjects, by: opts.by!, osUser, now, note: opts.note });
            console.log(
              `case ${c.ref} opened about ${c.subject}; their audit records are held until it is closed`,
            );
          },
        );
      });
    });

  withCommonOptions(cases.command('note'))
    .description('add a note to an open case (action taken, conversations, decisions)')
    .argument('<ref>', 'case reference')
    .argument('<text...>', 'the note')
    .option('--by <name>', 'your name')
    .action(async (ref: string, words: string[], opts: CaseOptions) => {
      await withCases(opts, (cases) =>
        withAdmin(opts, 'case note', { caseRef: ref, needsBy: true }, async (r, db, _c, osUser, now) => {
          await cases.at(r, db).note({ ref, text: words.join(' '), by: opts.by!, osUser, now });
          console.log(`note added to case ${ref}`);
        }),
      );
    });

  withCommonOptions(cases.command('close'))
    .description('close a case with its outcome (the hold on the subject’s records ends)')
    .argument('<ref>', 'case reference')
    .option('--by <name>', 'your name')
    .option('--outcome <text>', 'the outcome, e.g. "no further action" or "referred to HR"')
    .action(async (ref: string, opts: CaseOptions) => {
      await withCases(opts, (cases) =>
        withAdmin(opts, 'case close', { caseRef: ref, needsBy: true }, async (r, db, _c, osUser, now) => {
          const c = await cases.at(r, db).close({ ref, by: opts.by!, osUser, now, outcome: opts.outcome });
          console.log(`case ${c.ref} closed${c.outcome ? `: ${c.outcome}` : ''}`);
        }),
      );
    });

  withCommonOptions(cases.command('reopen'))
    .description('open a closed case again (new evidence, an appeal); its subjects’ records are held again')
    .argument('<ref>', 'case reference')
    .option('--by <name>', 'your name')
    .option('--reason <text>', 'why it is reopened (kept as a note with the earlier outcome)')
    .action(async (ref: string, opts: CaseOptions) => {
      await withCases(opts, (cases) =>
        withAdmin(opts, 'case reopen', { caseRef: ref, needsBy: true }, async (r, db, _c, osUser, now) => {
          const c = await cases.at(r, db).reopen({ ref, by: opts.by!, osUser, now, reason: opts.reason });
          console.log(`case ${c.ref} reopened; records of ${c.subject} are held again`);
        }),
      );
    });

  withCommonOptions(cases.command('show'))
    .description(
      'a case: subject, notes with authors and times, the reports pulled under it, outcome (needs --by, --reason)',
    )
    .argument('<ref>', 'case reference')
    .option('--by <name>', 'your name, for the access record (required)')
    .option('--reason <purpose>', 'why you are reading the case, kept in the access record (required)')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .option('--out <file>', 'write to this new file instead of standard output')
    .action(async (ref: string, opts: CaseOptions) => {
      await withCases(opts, (cases) =>
        withAdmin(
          opts,
          'case show',
          {
            caseRef: ref,
            needsBy: true,
            needsPurpose: true,
            format: opts.format ?? 'text',
            outFile: opts.out ?? null,
          },
          async (r, db, config, _osUser, now) => {
            const store = cases.at(r, db);
            const c = await store.require(ref);
            const access =
              typeof config.store === 'object'
                ? await (await import('./pg-admin.js')).pgCaseAccess(config, ref)
                : r.listAccess(db, { caseRef: ref });
            const src = await r.openSource(config, now);
            const notes =
              typeof config.store === 'object' ? await caseNotesTable(await store.notes(ref)) : null;
            try {
              const built = r.buildCaseDoc(notes ? { ...src, db: notes } : src, c, access);
              const out = new r.Output(opts.out);
              try {
                r.writeReport(built, (opts.format ?? 'text') as ReportFormat, src, out);
              } finally {
                out.close();
              }
            } finally {
              src.db.close();
              notes?.close();
            }
          },
        ),
      );
    });

  withCommonOptions(cases.command('list'))
    .description('every case, open and closed (needs --by, --reason)')
    .option('--by <name>', 'your name, for the access record (required)')
    .option('--reason <purpose>', 'why you are reading the list, kept in the access record (required)')
    .option('--json', 'JSON output')
    .action(async (opts: CaseOptions & { json?: boolean }) => {
      const fields = { needsBy: true, needsPurpose: true, format: opts.json ? 'json' : 'text' };
      await withCases(opts, (cases) =>
        withAdmin(opts, 'case list', fields, async (r, db, config) => {
          const list = await cases.at(r, db).list();
          if (opts.json) return console.log(JSON.stringify(list));
          if (list.length === 0) return console.log('no cases');
          console.log(
            r.renderText({
              title: 'Cases',
              subtitle: '',
              header: [],
              footer: '',
              sections: [
                {
                  heading: `${list.length} cases`,
                  table: {
                    columns: ['Case', 'Subject', 'Status', 'Opened', 'By', 'Outcome'],
                    rows: list.map((c) => [
                      c.ref,
                      c.subject,
                      c.status,
                      r.formatLocal(c.openedMs, config.timeZone, false),
                      c.openedBy,
                      c.outcome ?? '',
                    ]),
                  },
                },
              ],
            }),
          );
        }),
      );
    });
}

/**
 * A case's notes from PostgreSQL as the table the case report reads them from (reports/build-records.ts
 * reads SQLite), in memory, until the reports read through an interface of their own.
 */
async function caseNotesTable(notes: readonly CaseNote[]): Promise<Database.Database> {
  const { default: Sqlite } = await import('better-sqlite3');
  const db = new Sqlite(':memory:');
  db.exec(
    'CREATE TABLE case_notes (id INTEGER PRIMARY KEY, ref TEXT, time_ms INTEGER, author TEXT, os_user TEXT, text TEXT)',
  );
  const insert = db.prepare('INSERT INTO case_notes VALUES (?, ?, ?, ?, ?, ?)');
  for (const n of notes) insert.run(n.id, n.ref, n.timeMs, n.author, n.osUser, n.text);
  return db;
}
