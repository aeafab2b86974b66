/** `schoolgate case ...`: investigation case records (subject, notes, reports pulled, outcome) and holds. */
import type { Command } from 'commander';
import type { ReportFormat } from '../../reports/run.js';
import { withCommonOptions, type CommonOptions } from '../common.js';
import { parseSubjects, withAdmin, withSubjectOptions, type SubjectOptions } from './admin-access.js';

interface CaseOptions extends CommonOptions, SubjectOptions {
  by?: string;
  note?: string;
  outcome?: string;
  reason?: string;
  format?: ReportFormat;
  out?: string;
}

const FORMATS: readonly ReportFormat[] = ['text', 'html', 'csv', 'json'];

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
      const { subjects, label, precheck } = await parseSubjects(opts);
      await withAdmin(
        opts,
        'case open',
        { caseRef: ref, subject: label, needsBy: true, precheck },
        (r, db, _c, osUser, now) => {
          const c = r.openCase(db, {
            ref,
            subjects,
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

  withCommonOptions(cases.command('reopen'))
    .description('open a closed case again (new evidence, an appeal); its subjects’ records are held again')
    .argument('<ref>', 'case reference')
    .option('--by <name>', 'your name')
    .option('--reason <text>', 'why it is reopened (kept as a note with the earlier outcome)')
    .action(async (ref: string, opts: CaseOptions) => {
      await withAdmin(opts, 'case reopen', { caseRef: ref, needsBy: true }, (r, db, _c, osUser, now) => {
        const c = r.reopenCase(db, { ref, by: opts.by!, osUser, now, reason: opts.reason });
        console.log(`case ${c.ref} reopened; records of ${c.subject} are held again`);
      });
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
      await withAdmin(
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
    .description('every case, open and closed (needs --by, --reason)')
    .option('--by <name>', 'your name, for the access record (required)')
    .option('--reason <purpose>', 'why you are reading the list, kept in the access record (required)')
    .option('--json', 'JSON output')
    .action(async (opts: CaseOptions & { json?: boolean }) => {
      const fields = { needsBy: true, needsPurpose: true, format: opts.json ? 'json' : 'text' };
      await withAdmin(opts, 'case list', fields, (r, db, config) => {
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
