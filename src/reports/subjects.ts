/**
 * Names a case or a report is about, checked against what exists: a user in the users table (state
 * database) or in the audit log (an account removed since), a device in the devices table. A misspelt or
 * mis-cased name is refused with the names it may have meant, never answered with an empty report or a
 * case that holds nobody's records.
 */
import { existsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { CaseSubject } from '../audit/case-subjects.js';
import type { ReadonlyConfig } from '../config/load.js';
import type { Refusal } from './access.js';
import { openStateDatabase, stateDbPath } from '../state/database.js';

export interface SubjectLookup {
  userExists(name: string): boolean;
  deviceExists(name: string): boolean;
  /** Names that differ only in case, from the users and devices tables. */
  similar(name: string): string[];
}

/**
 * Reads the state database (read-only; absent: no users, no devices) and the audit log's usernames (none
 * when `audit` is null: on PostgreSQL the caller adds the users with rows there, pg-admin.ts).
 */
export function withSubjectLookup<T>(
  config: ReadonlyConfig,
  audit: Database.Database | null,
  run: (lookup: SubjectLookup) => T,
): T {
  const state = existsSync(stateDbPath(config.dataDir))
    ? openStateDatabase(config.dataDir, { readonly: true })
    : null;
  const one = (db: Database.Database | null, sql: string, value: string): boolean =>
    db !== null && db.prepare(sql).get(value) !== undefined;
  try {
    return run({
      userExists: (name) =>
        one(state, 'SELECT 1 FROM users WHERE name = ?', name) ||
        one(audit, 'SELECT 1 FROM audit_events WHERE username = ? LIMIT 1', name),
      deviceExists: (name) => one(state, 'SELECT 1 FROM devices WHERE name = ?', name),
      similar: (name) =>
        state === null
          ? []
          : (state
              .prepare(
                `SELECT name FROM users WHERE name = ? COLLATE NOCASE
                 UNION SELECT name FROM devices WHERE name = ? COLLATE NOCASE LIMIT 5`,
              )
              .pluck()
              .all(name, name) as string[]),
    });
  } finally {
    state?.close();
  }
}

/** The subjects that name nothing that exists (addresses always exist: they were checked as addresses). */
export function unknownSubjects(lookup: SubjectLookup, subjects: readonly CaseSubject[]): CaseSubject[] {
  return subjects.filter((s) =>
    s.kind === 'user'
      ? !lookup.userExists(s.value)
      : s.kind === 'device'
        ? !lookup.deviceExists(s.value)
        : false,
  );
}

/** The refusal of a case about subjects that exist nowhere, with the names they may have meant. */
export function subjectRefusal(lookup: SubjectLookup, unknown: readonly CaseSubject[]): Refusal | null {
  if (unknown.length === 0) return null;
  const maybe = [...new Set(unknown.flatMap((s) => lookup.similar(s.value)))];
  return {
    reason: unknown.map((s) => `no such ${s.kind} ${JSON.stringify(s.value)}`).join('; '),
    suggestion:
      (maybe.length > 0 ? `did you mean ${maybe.join(', ')}? Names are exact, case included. ` : '') +
      'List users with `schoolgate users list` and devices with `schoolgate devices list`; for traffic ' +
      'nobody signed in for, name the device (--subject-device) or the client address (--subject-address).',
    code: 'SG_SUBJECT_UNKNOWN',
  };
}

/** For `case open` and `hold add` (CLI and console): null when every subject exists, else the refusal. */
export function unknownSubjectsRefusal(
  config: ReadonlyConfig,
  audit: Database.Database,
  subjects: readonly CaseSubject[],
): Refusal | null {
  return withSubjectLookup(config, audit, (lookup) =>
    subjectRefusal(lookup, unknownSubjects(lookup, subjects)),
  );
}

/**
 * For `report user`: null when the name is a user or has rows, else "no such user". An audit database that
 * cannot be opened answers null: the report's own open says why.
 */
export function userRefusal(
  config: ReadonlyConfig,
  audit: () => Database.Database,
  name: string,
): Refusal | null {
  let db: Database.Database;
  try {
    db = audit();
  } catch {
    return null;
  }
  try {
    return withSubjectLookup(config, db, (lookup) => {
      const found = subjectRefusal(lookup, unknownSubjects(lookup, [{ kind: 'user', value: name }]));
      return found && { ...found, code: 'SG_USER_UNKNOWN' };
    });
  } finally {
    db.close();
  }
}
