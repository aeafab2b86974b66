/** `schoolgate case ...`: investigation case records (subject, notes, reports pulled, outcome) and holds. */
import type { Command } from 'commander';
import type Database from 'better-sqlite3';
import type { ReadonlyConfig } from '../../config/load.js';
import type { ReportFormat } from '../../reports/run.js';
import { configFrom, withCommonOptions, type CommonOptions } from '../common.js';

interface CaseOptions extends CommonOptions {
  by?: string;
  subject?: string;
  note?: string;
  outcome?: string;
  format?: ReportFormat;
  out?: string;
}

const FORMATS: readonly ReportFormat[] = ['text', 'html', 'csv', 'json'];
/** The reports box, loaded when a case command runs (not at start-up). */
const load = () => import('../../reports/index.js');
type Reports = Awaited<ReturnType<typeof load>>;

/** Checks the OS user (and --by), records the action in the access log, then runs it. */
async function withAdmin<T>(
  opts: CaseOptions,
  command: string,
  fields: { caseRef?: string | null; subject?: string | null; needsBy: boolean },
  run: (
    r: Reports,
    db: Database.Database,
    config: ReadonlyConfig,
    osUser: string,
    now: number,
  ) => T | Promise<T>,
): Promise<T> {
  const r = await load();
  const config = configFrom(opts);
  const now = Date.now();
  const osUser = r.currentOsUser();
  const db = r.openAdmin(config);
  try {
    r.authorise(
      db,
      {
        command,
        by: opts.by ?? null,
        osUser,
        caseRef: fields.caseRef ?? null,
        subject: fields.subject ?? null,
        needsCase: false,
        needsBy: fields.needsBy,
      },
      { allowedOsUsers: config.reports.allowedOsUsers, dataDir: config.dataDir, now },
    );
    return await run(r, db, config, osUser, now);
  } finally {
    db.close();
  }
}

export function registerCase(program: Command): void {
  const cases = program
    .command('case')
    .description('investigation cases: an open case holds its subject’s records from purging');

  withCommonOptions(cases.command('open'))
    .description('open a case about one person (their records are held until it is closed)')
    .argument('<ref>', 'case reference, e.g. 2026-014')
    .requiredOption('--subject <user>', 'the username the case is about')
    .option('--by <name>', 'your name')
    .option('--note <text>', 'a first note: what happened, who raised it')
    .action(async (ref: string, opts: CaseOptions) => {
      await withAdmin(
        opts,
        'case open',
        { caseRef: ref, subject: opts.subject ?? null, needsBy: true },
        (r, db, _c, osUser, now) => {
          const c = r.openCase(db, {
            ref,
            subject: opts.subject!,
            by: opts.by!,
            osUser,
            now,
            note: opts.note,
          });
          console.log(
            `case ${c.ref} opened about ${c.subject}; their audit records are held until it is closed`,
          );
        },
      );
    });

  withCommonOptions(cases.command('note'))
    .description('add a note to an open case (action taken, conversations, decisions)')
    .argument('<ref>', 'case reference')
    .argument('<text...>', 'the note')
    .option('--by <name>', 'your name')
    .action(async (ref: string, words: string[], opts: CaseOptions) => {
      await withAdmin(opts, 'case note', { caseRef: ref, needsBy: true }, (r, db, _c, osUser, now) => {
        r.addCaseNote(db, { ref, text: words.join(' '), by: opts.by!, osUser, now });
        console.log(`note added to case ${ref}`);
      });
    });

  withCommonOptions(cases.command('close'))
    .description('close a case with its outcome (the hold on the subject’s records ends)')
    .argument('<ref>', 'case reference')
    .option('--by <name>', 'your name')
    .option('--outcome <text>', 'the outcome, e.g. "no further action" or "referred to HR"')
    .action(async (ref: string, opts: CaseOptions) => {
      await withAdmin(opts, 'case close', { caseRef: ref, needsBy: true }, (r, db, _c, osUser, now) => {
        const c = r.closeCase(db, { ref, by: opts.by!, osUser, now, outcome: opts.outcome });
        console.log(`case ${c.ref} closed${c.outcome ? `: ${c.outcome}` : ''}`);
      });
    });

  withCommonOptions(cases.command('show'))
    .description('a case: subject, notes with authors and times, the reports pulled under it, outcome')
    .argument('<ref>', 'case reference')
    .option('--by <name>', 'your name, for the access record')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .option('--out <file>', 'write to this new file instead of standard output')
    .action(async (ref: string, opts: CaseOptions) => {
      await withAdmin(
        opts,
        'case show',
        { caseRef: ref, needsBy: false },
        async (r, db, config, _osUser, now) => {
          const c = r.requireCase(db, ref);
          const access = r.listAccess(db, { caseRef: ref });
          const src = await r.openSource(config, now);
          try {
            const built = r.buildCaseDoc(src, c, access);
            const out = new r.Output(opts.out);
            try {
              r.writeReport(built, (opts.format ?? 'text') as ReportFormat, src, out);
            } finally {
              out.close();
            }
          } finally {
            src.db.close();
          }
        },
      );
    });

  withCommonOptions(cases.command('list'))
    .description('every case, open and closed')
    .option('--by <name>', 'your name, for the access record')
    .option('--json', 'JSON output')
    .action(async (opts: CaseOptions & { json?: boolean }) => {
      await withAdmin(opts, 'case list', { needsBy: false }, (r, db, config) => {
        const list = r.listCases(db);
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
      });
    });
}
