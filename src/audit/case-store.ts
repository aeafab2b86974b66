/**
 * Cases wherever the record is: the SQLite file (cases.ts, unchanged) or the shared PostgreSQL database
 * (postgres/cases.ts). The CLI picks one by config.store and does not know which; the rules and their
 * refusals are cases.ts's on both.
 */
import type Database from 'better-sqlite3';
import type { CaseSubject } from './case-subjects.js';
import { listAccess, type StoredAccessEntry } from './report-access.js';
import {
  addCaseNote,
  caseNotes,
  closeCase,
  getCase,
  listCases,
  openCase,
  reopenCase,
  requireCase,
  type Actor,
  type CaseNote,
  type CaseRecord,
} from './cases.js';

export interface CaseStore {
  open(
    opts: Actor & { ref: string; subjects: readonly CaseSubject[]; note?: string | undefined },
  ): Promise<CaseRecord>;
  note(opts: Actor & { ref: string; text: string }): Promise<void>;
  close(opts: Actor & { ref: string; outcome?: string | undefined }): Promise<CaseRecord>;
  reopen(opts: Actor & { ref: string; reason: string | undefined }): Promise<CaseRecord>;
  get(ref: string): Promise<CaseRecord | undefined>;
  /** The case, or SG_CASE_UNKNOWN. */
  require(ref: string): Promise<CaseRecord>;
  list(): Promise<CaseRecord[]>;
  notes(ref: string): Promise<CaseNote[]>;
  /** The reports pulled (and refused) under the case, oldest first: the store's own report_access. */
  looks(ref: string, limit: number): Promise<StoredAccessEntry[]>;
}

export function sqliteCaseStore(db: Database.Database): CaseStore {
  return {
    open: async (o) => openCase(db, o),
    note: async (o) => addCaseNote(db, o),
    close: async (o) => closeCase(db, o),
    reopen: async (o) => reopenCase(db, o),
    get: async (ref) => getCase(db, ref),
    require: async (ref) => requireCase(db, ref),
    list: async () => listCases(db),
    notes: async (ref) => caseNotes(db, ref),
    looks: async (ref, limit) => listAccess(db, { caseRef: ref, limit }),
  };
}
