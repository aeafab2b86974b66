/**
 * The writer's multi-row statements (multi-row.ts, chained-batch.ts) must leave exactly the rows, chain
 * links and outcome hashes the row-by-row statements left: the same events go through chainedBatch into
 * one database and through CHAINED_INSERT_SQL / UPDATE_SQL one at a time (the old writer) into another.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  outcomeHash,
  parseHead,
  READ_HEAD_SQL,
  rowHash,
  verifyChain,
  WRITE_HEAD_SQL,
  formatHead,
} from '../../../src/audit/chain.js';
import { chainedBatch } from '../../../src/audit/chained-batch.js';
import { chunkSizes } from '../../../src/audit/multi-row.js';
import { openWritableDatabase } from '../../../src/audit/open-database.js';
import {
  CHAINED_INSERT_SQL,
  UPDATE_SQL,
  eventToRow,
  outcomeToRow,
  type EventRow,
  type OutcomeRow,
} from '../../../src/audit/row-mapping.js';
import { makeEvent, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
let fast: Database.Database;
let slow: Database.Database;

beforeEach(() => {
  ({ dir, cleanup } = tempDir('sg-multi-row-'));
  fast = openWritableDatabase(join(dir, 'fast.db'), { busyTimeoutMs: 1000 });
  slow = openWritableDatabase(join(dir, 'slow.db'), { busyTimeoutMs: 1000 });
});
afterEach(() => {
  fast.close();
  slow.close();
  cleanup();
});

/** The writer before multi-row statements: one INSERT OR IGNORE and one UPDATE per row. */
function rowByRow(db: Database.Database, records: EventRow[], updates: OutcomeRow[]): void {
  const insert = db.prepare(CHAINED_INSERT_SQL);
  const update = db.prepare(UPDATE_SQL);
  db.transaction(() => {
    let head = parseHead(db.prepare(READ_HEAD_SQL).pluck().get() as string | undefined);
    for (const r of records) {
      const seq = head.seq + 1;
      const chain_hash = rowHash(head.hash, { ...r, seq });
      const outcome_hash = outcomeHash(chain_hash, {
        status: r.status,
        bytes_in: null,
        bytes_out: null,
        duration_ms: null,
        completed_ms: null,
      });
      if (insert.run({ ...r, seq, chain_hash, outcome_hash }).changes === 1) head = { seq, hash: chain_hash };
    }
    for (const u of updates) update.run(u);
    if (records.length > 0) db.prepare(WRITE_HEAD_SQL).run(formatHead(head));
  }).immediate();
}

const everything = (db: Database.Database) => ({
  rows: db.prepare(`SELECT * FROM audit_events ORDER BY seq`).all(),
  head: db.prepare(READ_HEAD_SQL).pluck().get(),
});

/** Events of every shape the chain treats differently: later columns set or not, nulls, odd text. */
function variedEvents(n: number, offset = 0) {
  return Array.from({ length: n }, (_, i) =>
    makeEvent({
      time: 1_700_000_000_000 + offset + i,
      user: i % 7 === 0 ? null : `pupil${i % 5}`,
      host: `h${i % 9}.example`,
      path: i % 11 === 0 ? null : `/p/${i}?q="é\n"`,
      categories: i % 3 === 0 ? [] : ['news', 'chat'],
      status: i % 4 === 0 ? null : 200,
      ...(i % 5 === 0 ? { claimedUser: `claimed${i}` } : {}),
      ...(i % 6 === 0 ? { site: 'north' } : {}),
      ...(i % 13 === 0 ? { selftestRun: `run${i}` } : {}),
    }),
  );
}

const outcome = (id: string, i: number, status: number | null) =>
  outcomeToRow(id, { status, bytesIn: i, bytesOut: 2 * i, durationMs: i % 17 }, 1_700_000_100_000 + i);

describe('multi-row batch writes', () => {
  it('cuts a batch into a few prepared chunk sizes', () => {
    expect(chunkSizes(100)).toEqual([64, 16, 16, 4]);
    expect(chunkSizes(1000).reduce((a, b) => a + b, 0)).toBe(1000);
    expect(chunkSizes(0)).toEqual([]);
  });

  it('leaves the same rows, links and head as row-by-row statements, outcomes included', () => {
    const first = variedEvents(300).map(eventToRow);
    const second = variedEvents(77, 1000).map(eventToRow);
    const outcomes = first.map((r, i) => outcome(r.id, i, i % 3 === 0 ? null : 204));
    chainedBatch(fast).immediate(first, []);
    chainedBatch(fast).immediate(second, outcomes);
    rowByRow(slow, first, []);
    rowByRow(slow, second, outcomes);
    expect(everything(fast)).toEqual(everything(slow));
    expect(verifyChain(fast).ok).toBe(true);
    expect(
      fast.prepare(`SELECT count(*) FROM audit_events WHERE completed_ms IS NOT NULL`).pluck().get(),
    ).toBe(300);
  });

  it('skips duplicate ids (an earlier row, twice in the batch) without advancing the chain, like before', () => {
    const earlier = variedEvents(10).map(eventToRow);
    chainedBatch(fast).immediate(earlier, []);
    rowByRow(slow, earlier, []);
    const batch = variedEvents(100, 500).map(eventToRow);
    batch[20] = earlier[3]!; // already stored
    batch[70] = batch[65]!; // twice in this batch, in another chunk than the first
    batch[66] = batch[65]!; // twice in the same chunk
    chainedBatch(fast).immediate(batch, []);
    rowByRow(slow, batch, []);
    expect(everything(fast)).toEqual(everything(slow));
    expect(fast.prepare(`SELECT count(*) FROM audit_events`).pluck().get()).toBe(10 + 97);
    expect(verifyChain(fast).ok).toBe(true);
  });

  it('applies two outcomes of one id in order, as row-by-row updates do (COALESCE sees the first)', () => {
    const rows = variedEvents(5).map(eventToRow);
    chainedBatch(fast).immediate(rows, []);
    rowByRow(slow, rows, []);
    const id = rows[1]!.id;
    const updates = [outcome(id, 1, 201), outcome(rows[2]!.id, 2, 200), outcome(id, 3, null)];
    chainedBatch(fast).immediate([], updates);
    rowByRow(slow, [], updates);
    expect(everything(fast)).toEqual(everything(slow));
    expect(fast.prepare(`SELECT status FROM audit_events WHERE id = ?`).pluck().get(id)).toBe(201);
  });
});
