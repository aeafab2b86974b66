/**
 * Legal holds wherever the record is: the SQLite file (holds.ts) or the shared PostgreSQL database
 * (postgres/holds.ts), as case-store.ts is for cases. The CLI and the console pick one by config.store and
 * do not know which; the rules and their refusals are holds.ts's on both.
 */
import type Database from 'better-sqlite3';
import type { Actor } from './cases.js';
import type { CaseSubject } from './case-subjects.js';
import { addHolds, getHold, listHolds, releaseHold, type Hold } from './holds.js';

export interface HoldStore {
  add(opts: Actor & { subjects: readonly CaseSubject[]; reason: string | undefined }): Promise<Hold[]>;
  release(opts: Actor & { id: number; reason: string | undefined }): Promise<Hold>;
  list(opts: { all: boolean }): Promise<Hold[]>;
  get(id: number): Promise<Hold | null>;
}

export function sqliteHoldStore(db: Database.Database): HoldStore {
  return {
    add: async (o) => addHolds(db, o),
    release: async (o) => releaseHold(db, o),
    list: async (o) => listHolds(db, o),
    get: async (id) => getHold(db, id),
  };
}
