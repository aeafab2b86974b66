/**
 * The console's one door into the report-access record (src/reports/access.ts, src/audit/report-access.ts):
 * every look at a person's records is checked and written here, naming the signed-in person, their role,
 * the case and the purpose, before the page is sent. Kept to this file so changes to `authorise` touch the
 * console in one place. With reports.people set, a console account is the person of the same name there
 * (their roles there decide the reviews and the access log), signed in by the console rather than by an OS
 * account.
 */
import type Database from 'better-sqlite3';
import type { AccessEntry } from '../audit/report-access.js';
import type { ReadonlyConfig } from '../config/load.js';
import type { CaseRecord } from '../audit/cases.js';
import { isSchoolgateError, SchoolgateError } from '../errors.js';
import {
  accessPolicy,
  authorise,
  authoriseWith,
  currentOsUser,
  type AccessRequest,
  type CaseScope,
  type Refusal,
} from '../reports/access.js';
import type { AccessRecorder } from '../reports/audit-reads.js';
import type { RoleNeed } from '../reports/people.js';
import type { Role } from './accounts.js';

export interface Looker {
  name: string;
  role: Role;
  /** The school of the trust the account is limited to (sessions.ts); null or absent: the whole trust. */
  site?: string | null;
}

/** The record's "by": the person, their role, and that it came through the console. */
export function byOf(p: Looker): string {
  return `${p.name} (${p.role}, console)`;
}

function commandOf(command: string): string {
  return `${command} (console)`;
}

export interface Look {
  command: string;
  purpose: string | null;
  subject?: string | null;
  caseRef?: string | null;
  fromMs?: number | null;
  toMs?: number | null;
  format?: string | null;
  needsCase: boolean;
  scope?: CaseScope;
  refusal?: Refusal | null;
  /** A review outside a case: the person must hold a reviewer role in reports.people (as the CLI). */
  roleNeed?: RoleNeed | null;
  /** The site the look was limited to, when a trust-wide account picked one (default: the account's). */
  site?: string | null;
}

/** The access request of one look: the person as the console signed them in, their site, the purpose. */
function lookRequest(config: ReadonlyConfig, who: Looker, look: Look): AccessRequest {
  const { command, ...rest } = look;
  return {
    ...rest,
    command: commandOf(command),
    site: look.site ?? who.site ?? null,
    // With reports.people set the record keeps the person's name as spelt there (command says "console").
    by: config.reports.people ? who.name : byOf(who),
    osUser: currentOsUser(),
    needsBy: true,
    signedIn: true,
    // A look at a person's records says why (kept as the entry's purpose); changes to a case do not.
    needsPurpose: look.purpose !== null,
  };
}

/** Checks and records one look; throws SG_REPORT_REFUSED (already recorded) when it is refused. */
export function authoriseLook(
  db: Database.Database,
  config: ReadonlyConfig,
  who: Looker,
  look: Look,
  now: number,
): number {
  return authorise(db, lookRequest(config, who, look), accessPolicy(config, now));
}

/**
 * The same, recorded by `recorder` (PostgreSQL's report_access on store: postgres). A record that cannot
 * be written refuses the look (SG_AUDIT_UNAVAILABLE): nothing is read unrecorded.
 */
export async function authoriseLookWith(
  recorder: AccessRecorder,
  caseOf: (ref: string) => CaseRecord | null,
  config: ReadonlyConfig,
  who: Looker,
  look: Look,
  now: number,
): Promise<number> {
  const unrecorded = (err: unknown): never => {
    if (isSchoolgateError(err)) throw err;
    throw new SchoolgateError('SG_AUDIT_UNAVAILABLE', 'This look cannot be recorded, so it is refused.', {
      context: { store: recorder.store, detail: err instanceof Error ? err.message : String(err) },
      suggestion: 'Check the audit store (PostgreSQL) and `schoolgate status`; nothing was read.',
      cause: err,
    });
  };
  const guarded: AccessRecorder = {
    store: recorder.store,
    record: (entry) => recorder.record(entry).catch(unrecorded),
    close: () => recorder.close(),
  };
  return authoriseWith(guarded, caseOf, lookRequest(config, who, look), accessPolicy(config, now));
}

/**
 * The record of a page refused to the role (or, with `reason`, the account's site), written before the 403
 * is sent, in the store's report_access.
 */
export function roleRefusalEntry(
  who: Looker,
  command: string,
  subject: string | null,
  now: number,
  reason = `the ${who.role} role may not see this page (SG_CONSOLE_FORBIDDEN)`,
): AccessEntry {
  return {
    timeMs: now,
    by: byOf(who),
    osUser: currentOsUser(),
    command: commandOf(command),
    subject,
    outcome: 'refused',
    reason,
    site: who.site ?? null,
  };
}

/**
 * A look a role makes by its work rather than as a reviewer (the technician's unblock requests, which name
 * who asked): recorded as granted with the purpose, not checked against reports.people.
 */
export function roleLookEntry(
  who: Looker,
  look: { command: string; purpose: string; format: string },
  now: number,
): AccessEntry {
  return {
    timeMs: now,
    by: byOf(who),
    osUser: currentOsUser(),
    command: commandOf(look.command),
    purpose: look.purpose,
    format: look.format,
    toMs: now,
    outcome: 'granted',
    site: who.site ?? null,
  };
}
