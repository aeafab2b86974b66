/**
 * Whose records a case is about: users by name, and for traffic nobody signed in for, devices (by the
 * name the devices table gives an address) and client addresses. A report under a case is granted only for
 * these (src/reports/access.ts); a domain report under a case shows only their rows.
 *
 * A device or address subject covers only rows with no user: a pupil signed in on the subject's laptop is
 * that pupil's record, not the laptop's, and is seen only under a case about that pupil.
 */
import { isIP } from 'node:net';
import type Database from 'better-sqlite3';
import ipaddr from 'ipaddr.js';
import { SchoolgateError } from '../errors.js';

export type SubjectKind = 'user' | 'device' | 'address';

export interface CaseSubject {
  kind: SubjectKind;
  value: string;
}

/** The identity columns of an audit row a subject is matched against. */
export interface RowIdentity {
  username: string | null;
  device: string | null;
  client_ip: string;
}

/** One reading of an address: IPv4-mapped IPv6 as IPv4, IPv6 in RFC 5952 text (as the proxy logs them). */
export function canonicalAddress(text: string): string {
  const t = text.trim();
  if (isIP(t) === 0)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `"${text}" is not an IP address`, {
      context: { address: text },
      suggestion: 'give the client address as the audit log shows it, e.g. 10.0.0.12 or 2001:db8::12',
    });
  return ipaddr.process(t).toString();
}

/** The subjects named on the command line, each once, in the order given. */
export function subjectsFrom(input: {
  users?: readonly string[];
  devices?: readonly string[];
  addresses?: readonly string[];
}): CaseSubject[] {
  const all: CaseSubject[] = [
    ...(input.users ?? []).map((value) => ({ kind: 'user' as const, value })),
    ...(input.devices ?? []).map((value) => ({ kind: 'device' as const, value })),
    ...(input.addresses ?? []).map((value) => ({ kind: 'address' as const, value: canonicalAddress(value) })),
  ];
  const seen = new Set<string>();
  return all.filter((s) => {
    const key = `${s.kind}:${s.value}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function subjectLabel(s: CaseSubject): string {
  return s.kind === 'user' ? s.value : `${s.kind} ${s.value}`;
}

export function subjectsLabel(subjects: readonly CaseSubject[]): string {
  return subjects.map(subjectLabel).join(', ');
}

export function insertCaseSubjects(
  db: Database.Database,
  ref: string,
  subjects: readonly CaseSubject[],
): void {
  const insert = db.prepare('INSERT OR IGNORE INTO case_subjects (ref, kind, value) VALUES (?, ?, ?)');
  for (const s of subjects) insert.run(ref, s.kind, s.value);
}

export function caseSubjects(db: Database.Database, ref: string): CaseSubject[] {
  return db
    .prepare<[string], CaseSubject>('SELECT kind, value FROM case_subjects WHERE ref = ? ORDER BY rowid')
    .all(ref);
}

/** Is this audit row the record of one of the subjects? */
export function rowCovered(subjects: readonly CaseSubject[], row: RowIdentity): boolean {
  return subjects.some((s) =>
    s.kind === 'user'
      ? row.username === s.value
      : row.username === null && (s.kind === 'device' ? row.device === s.value : row.client_ip === s.value),
  );
}
