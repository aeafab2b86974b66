/**
 * The gate every investigation command goes through: the OS user (reports.allowedOsUsers), a named person
 * (--by) where needed, a precheck, and the access log entry — granted or refused — before it runs.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type Database from 'better-sqlite3';
import type { CaseSubject } from '../../audit/case-subjects.js';
import type { ReadonlyConfig } from '../../config/load.js';
import type { Refusal } from '../../reports/access.js';
import { configFrom, type CommonOptions } from '../common.js';

const load = () => import('../../reports/index.js');
export type Reports = Awaited<ReturnType<typeof load>>;

/** Checks the OS user (and --by, and the purpose), records the action in the access log, then runs it. */
export async function withAdmin<T>(
  opts: CommonOptions & { by?: string; reason?: string },
  command: string,
  fields: {
    caseRef?: string | null;
    subject?: string | null;
    needsBy: boolean;
    /** A read of monitoring information: --reason is its purpose, required. */
    needsPurpose?: boolean;
    /** Where the output goes, for the access record. */
    format?: string | null;
    outFile?: string | null;
    /** Checked before the access is recorded, so a refusal it finds is recorded as one. */
    precheck?: (r: Reports, db: Database.Database, config: ReadonlyConfig) => Refusal | null;
  },
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
  // On PostgreSQL the access is recorded in PostgreSQL's report_access (chained by its ledger); this node's
  // SQLite file is still opened for the subject lookups (users, devices) and records nothing.
  const pgAdmin = typeof config.store === 'object' ? await import('./pg-admin.js') : null;
  const db = pgAdmin ? await pgAdmin.openAccessRecord(config) : r.openAdmin(config);
  try {
    r.warnIfByUnchecked(config);
    const request = {
      command,
      by: opts.by ?? null,
      osUser,
      caseRef: fields.caseRef ?? null,
      subject: fields.subject ?? null,
      purpose: opts.reason?.trim() || null,
      format: fields.format ?? null,
      outFile: fields.outFile ? path.resolve(fields.outFile) : null,
      needsCase: false,
      needsBy: fields.needsBy,
      needsPurpose: fields.needsPurpose ?? false,
      refusal: fields.precheck?.(r, db, config) ?? null,
    };
    if (pgAdmin) await pgAdmin.authoriseOnPostgres(config, request, r.accessPolicy(config, now));
    else r.authorise(db, request, r.accessPolicy(config, now));
    return await run(r, db, config, osUser, now);
  } finally {
    db.close();
  }
}

/** Whose records a case or a hold is about, as given on the command line. */
export interface SubjectOptions {
  subject?: string[];
  subjectDevice?: string[];
  subjectAddress?: string[];
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** --subject, --subject-device, --subject-address (each repeatable); `what` ends each help line. */
export function withSubjectOptions(command: Command, what: string): Command {
  return command
    .option('--subject <user>', `a user ${what} (repeatable)`, collect)
    .option(
      '--subject-device <name>',
      `a device (devices list) whose traffic nobody signed in for ${what} (repeatable)`,
      collect,
    )
    .option(
      '--subject-address <ip>',
      `a client address whose traffic nobody signed in for ${what} (repeatable)`,
      collect,
    );
}

/**
 * The subjects, parsed before anything is opened or recorded (a malformed address is an argument error),
 * and the precheck that refuses one nobody knows (recorded as a refusal).
 */
export async function parseSubjects(opts: SubjectOptions): Promise<{
  subjects: CaseSubject[];
  label: string | null;
  precheck: (r: Reports, db: Database.Database, config: ReadonlyConfig) => Refusal | null;
}> {
  const { subjectsFrom, subjectsLabel } = await load();
  const subjects = subjectsFrom({
    users: opts.subject ?? [],
    devices: opts.subjectDevice ?? [],
    addresses: opts.subjectAddress ?? [],
  });
  return {
    subjects,
    label: subjectsLabel(subjects) || null,
    precheck: (r, db, config) => r.unknownSubjectsRefusal(config, db, subjects),
  };
}
