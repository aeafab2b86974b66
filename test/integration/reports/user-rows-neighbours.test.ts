/**
 * A person's report checks its rows' links with the neighbours its query fetched beside them
 * (NEIGHBOUR_SELECT): the verdict is the one the checker gives looking every neighbour up, for an untouched
 * log and for each edit around the person's rows (the other people's rows between theirs included).
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type VerifyRow } from '../../../src/audit/chain.js';
import { verifyCoveredRows, type CoverageResult } from '../../../src/audit/chain-coverage.js';
import { openSqliteAuditStore } from '../../../src/audit/index.js';
import { buildUserReport } from '../../../src/reports/builders.js';
import { openReadOnly } from '../../../src/reports/source.js';
import { editedCopy, makeEvent, tempDir } from '../audit/helpers.js';
import { londonSource } from './fixture.js';

const T0 = Date.UTC(2026, 2, 2, 9, 0);
let dir: string;
let cleanup: () => void;
let clean: string;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  clean = path.join(dir, 'clean.sqlite');
  const store = openSqliteAuditStore({ path: clean, batchMaxRows: 500 });
  // pupil1's rows with one or two of other people's rows between them, as in a busy school.
  await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      store.record(makeEvent({ time: T0 + i * 1000, user: i % 3 === 0 ? 'pupil1' : `pupil${2 + (i % 2)}` })),
    ),
  );
  await store.close();
});
afterAll(() => cleanup());

const withEdit = (name: string, sql: string): string => editedCopy(clean, name, sql);

async function verdicts(file: string) {
  const db = openReadOnly(file);
  try {
    const src = londonSource(db, T0 + 86_400_000);
    const report = await buildUserReport(src, 'pupil1', T0 - 1, T0 + 86_400_000, {
      by: 'DSL',
      osUser: 'dsl',
      caseRef: 'T-1',
    });
    const plain = db
      .prepare(`SELECT rowid AS rid, * FROM audit_events WHERE username = 'pupil1' ORDER BY time_ms, rowid`)
      .all() as VerifyRow[];
    return { fetched: report.data.verification as CoverageResult, lookedUp: verifyCoveredRows(db, plain) };
  } finally {
    db.close();
  }
}

it.each<[string, string, boolean]>([
  ['untouched', 'SELECT 1', true],
  ['a row of theirs edited', `UPDATE audit_events SET host = 'x.example' WHERE seq = 10`, false],
  [
    'the next person’s row after theirs edited',
    `UPDATE audit_events SET host = 'x.example' WHERE seq = 11`,
    false,
  ],
  [
    'the hash of the row before theirs rewritten',
    `UPDATE audit_events SET chain_hash = '${'2'.repeat(64)}' WHERE seq = 12`,
    false,
  ],
  ['the row after theirs deleted', `DELETE FROM audit_events WHERE seq = 17`, true],
  ['the row before theirs deleted', `DELETE FROM audit_events WHERE seq = 21`, false],
])('%s: the same verdict as looking the neighbours up', async (name, sql, ok) => {
  const { fetched, lookedUp } = await verdicts(withEdit(name.replace(/\W+/g, '-'), sql));
  expect(fetched).toEqual(lookedUp);
  expect(fetched.ok).toBe(ok);
  if (ok) expect(fetched.checked).toBe(20);
});
