/**
 * A person's report checks its rows on the JSON SQLite builds (checked-scan.ts). It must give the report and
 * the verdict the row-by-row check gives (report-parts.ts scan over the full rows), take its own way for the
 * rows of an untouched log (values with quotes, control characters, non-ASCII, a claimed name), and still
 * report a row changed inside the person's range as tampered, however it was changed.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { outcomeHash, rowHash, type ChainedFields, type OutcomeFields } from '../../../src/audit/chain.js';
import { CoverageChecker } from '../../../src/audit/chain-coverage.js';
import { openSqliteAuditStore } from '../../../src/audit/index.js';
import { Aggregate } from '../../../src/reports/aggregate.js';
import { buildUserReport } from '../../../src/reports/builders.js';
import { scan } from '../../../src/reports/report-parts.js';
import { openReadOnly } from '../../../src/reports/source.js';
import { editedCopy, makeEvent, tempDir } from '../audit/helpers.js';
import { londonSource } from './fixture.js';

const T0 = Date.UTC(2026, 2, 2, 9, 0);
const T1 = T0 + 86_400_000;
const PUPIL_ROWS = 20;
let dir: string;
let cleanup: () => void;
let clean: string;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  clean = path.join(dir, 'clean.sqlite');
  const store = openSqliteAuditStore({ path: clean, batchMaxRows: 500 });
  const odd = ['/a"b\\c', '/tab\there\nline\u0001\u001f', '/é/😀/\u2028', '/plain'];
  await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      store.record(
        makeEvent({
          time: T0 + i * 1000,
          user: i % 3 === 0 ? 'pupil1' : `pupil${2 + (i % 2)}`,
          path: odd[i % odd.length]!,
          ...(i % 9 === 0 ? { claimedUser: 'someone.else' } : {}),
          ...(i % 6 === 0 ? { searchTerm: 'how to "win" \\ big', categories: [] } : {}),
        }),
      ),
    ),
  );
  await store.close();
});
afterAll(() => cleanup());
afterEach(() => vi.restoreAllMocks());

const withEdit = (name: string, edit: (db: Database.Database) => void): string =>
  editedCopy(clean, name, edit);

/** The report as built, and the same figures from the full rows checked one by one. */
async function reports(file: string) {
  const db = openReadOnly(file);
  try {
    const src = londonSource(db, T1);
    const built = await buildUserReport(src, 'pupil1', T0 - 1, T1, {
      by: 'DSL',
      osUser: 'dsl',
      caseRef: 'T-1',
    });
    const a = new Aggregate(src);
    const verification = await scan(src, src.reads.userRows('pupil1', T0 - 1, T1), a);
    return { built, a, verification };
  } finally {
    db.close();
  }
}

/** Rewrites seq's host and recomputes its own chain and outcome hashes: only the next row's link shows it. */
function recomputedEdit(db: Database.Database, seq: number): void {
  const prev = db
    .prepare('SELECT chain_hash FROM audit_events WHERE seq = ?')
    .pluck()
    .get(seq - 1) as string;
  const row = db.prepare('SELECT * FROM audit_events WHERE seq = ?').get(seq) as ChainedFields &
    OutcomeFields;
  const edited = { ...row, host: 'elsewhere.example' };
  const hash = rowHash(prev, edited);
  db.prepare('UPDATE audit_events SET host = ?, chain_hash = ?, outcome_hash = ? WHERE seq = ?').run(
    edited.host,
    hash,
    outcomeHash(hash, edited),
    seq,
  );
}

describe('the checked scan of a person’s rows', () => {
  it('gives the figures and the verdict of the row-by-row check, every row vouched for by its JSON', async () => {
    const vouch = vi.spyOn(CoverageChecker.prototype, 'vouch');
    const { built, a, verification } = await reports(clean);
    expect(built.data.verification).toEqual(verification);
    expect(verification).toMatchObject({ ok: true, checked: PUPIL_ROWS });
    expect(vouch).toHaveBeenCalledTimes(PUPIL_ROWS);
    const data = built.data;
    expect(data.summary).toEqual({
      ...a.total,
      flagged: a.flagged,
      byAction: Object.fromEntries(a.byAction),
    });
    expect(data.searches).toEqual(a.searches);
    expect(data.flaggedDomains).toEqual(
      [...a.flaggedDomains.values()].sort((x, y) => y.requests - x.requests),
    );
    expect((data.searches as unknown[]).length).toBeGreaterThan(0);
  });

  it.each<[string, (db: Database.Database) => void, string, number?]>([
    [
      'a decision column edited',
      (db) => db.exec(`UPDATE audit_events SET host = 'x.example' WHERE seq = 31`),
      'the row does not match its hash',
    ],
    [
      'an outcome column edited',
      (db) => db.exec(`UPDATE audit_events SET status = 200 WHERE seq = 31`),
      'the outcome columns do not match their hash',
    ],
    [
      'an edit with its own hashes recomputed',
      (db) => recomputedEdit(db, 31),
      'the row after seq 31 does not link to it',
      32, // the break is the next row's link (another person's row)
    ],
    [
      'a value made a blob',
      (db) => db.exec(`UPDATE audit_events SET path = CAST('/plain' AS BLOB) WHERE seq = 31`),
      'the row does not match its hash',
    ],
    [
      'a claimed name forged',
      (db) => db.exec(`UPDATE audit_events SET claimed_user = 'forged' WHERE seq = 31`),
      'the row does not match its hash',
    ],
  ])(
    'reports %s inside the range as tampered, as the row-by-row check does',
    async (name, edit, reason, seq = 31) => {
      // seq 31 is pupil1's (every third row from seq 1), in the middle of the range.
      const { built, verification } = await reports(withEdit(name.replace(/\W+/g, '-'), edit));
      expect(verification.ok).toBe(false);
      expect(built.data.verification).toEqual(verification);
      expect(built.data.verification).toMatchObject({ ok: false, firstBreak: { seq, reason } });
      expect(built.doc.header).toContainEqual([
        'Tamper check',
        expect.stringMatching(new RegExp(`^FAILED at seq ${seq}:`)),
      ]);
    },
  );
});
