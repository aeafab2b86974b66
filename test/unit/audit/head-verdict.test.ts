/** judgeHead: the database found against the head recorded outside it. Every doubt refuses. */
import { describe, expect, it } from 'vitest';
import type { HeadFileRead, RecordedHead } from '../../../src/audit/head-file.js';
import { judgeHead, type DatabaseFacts, type FoundDatabase } from '../../../src/audit/head-verdict.js';

const ID = 'a'.repeat(32);
const HASH = 'b'.repeat(64);
const head: RecordedHead = {
  version: 1,
  database_id: ID,
  created_ms: Date.UTC(2026, 8, 1),
  seq: 100,
  chain_hash: HASH,
  row_time_ms: Date.UTC(2026, 11, 1),
  written_ms: Date.UTC(2026, 11, 1, 0, 1),
};
const recorded: HeadFileRead = { kind: 'ok', head };
const absent: HeadFileRead = { kind: 'absent' };

const same: DatabaseFacts = {
  schemaVersion: 3,
  databaseId: ID,
  createdMs: head.created_ms,
  headSeq: 100,
  hashAtRecordedSeq: HASH,
  purgeExplainsMissingRow: false,
};
const db = (facts: Partial<DatabaseFacts> = {}): FoundDatabase => ({
  kind: 'database',
  facts: { ...same, ...facts },
});

const cases: [string, HeadFileRead, FoundDatabase, string | null][] = [
  ['first start: no head, no file', absent, { kind: 'missing', strayWal: false }, null],
  ['no head yet: an existing database (upgrade)', absent, db({ databaseId: null }), null],
  ['no head, a -wal without its database', absent, { kind: 'missing', strayWal: true }, 'SG_AUDIT_REPLACED'],
  ['a -wal beside an empty file', absent, { kind: 'zero-length', strayWal: true }, 'SG_AUDIT_REPLACED'],
  ['the same database, the recorded row present', recorded, db(), null],
  ['rows written after the recorded head (a crash)', recorded, db({ headSeq: 180 }), null],
  ['the head file is unreadable', { kind: 'unreadable', reason: 'not JSON' }, db(), 'SG_AUDIT_DAMAGED'],
  ['the database file is missing', recorded, { kind: 'missing', strayWal: false }, 'SG_AUDIT_REPLACED'],
  ['the database file is empty', recorded, { kind: 'zero-length', strayWal: false }, 'SG_AUDIT_REPLACED'],
  ['a file with no audit schema', recorded, db({ schemaVersion: 0, databaseId: null }), 'SG_AUDIT_REPLACED'],
  ['another audit database', recorded, db({ databaseId: 'c'.repeat(32) }), 'SG_AUDIT_REPLACED'],
  ['a database with no id (older than the head)', recorded, db({ databaseId: null }), 'SG_AUDIT_REPLACED'],
  ['an older copy: the chain ends before the head', recorded, db({ headSeq: 99 }), 'SG_AUDIT_REPLACED'],
  ['the recorded row rewritten', recorded, db({ hashAtRecordedSeq: 'd'.repeat(64) }), 'SG_AUDIT_REPLACED'],
  ['the recorded row deleted by hand', recorded, db({ hashAtRecordedSeq: null }), 'SG_AUDIT_REPLACED'],
  [
    'the recorded row deleted by a purge',
    recorded,
    db({ hashAtRecordedSeq: null, purgeExplainsMissingRow: true }),
    null,
  ],
];

describe('judgeHead', () => {
  it.each(cases)('%s', (_name, headRead, found, code) => {
    const verdict = judgeHead(headRead, found);
    if (code === null) expect(verdict).toMatchObject({ ok: true });
    else expect(verdict).toMatchObject({ ok: false, code });
  });

  it('names the recorded head in what it says', () => {
    const verdict = judgeHead(recorded, { kind: 'zero-length', strayWal: false });
    expect(verdict).toEqual({
      ok: false,
      code: 'SG_AUDIT_REPLACED',
      reason:
        `the database file is empty (0 bytes); the head file records seq 100 of database ${ID} ` +
        '(created 2026-09-01T00:00:00.000Z), recorded 2026-12-01T00:01:00.000Z',
    });
  });
});
