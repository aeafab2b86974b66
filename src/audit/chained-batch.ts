/**
 * The one way rows join the hash chain: inside a write transaction (BEGIN IMMEDIATE holds the write lock),
 * read the head, give each row the next seq and its hash, insert, store the new head. The proxy's writer
 * and a CLI command that records a step of its own (`requests approve`) both go through it, so a second
 * writer can never fork the chain.
 */
import type Database from 'better-sqlite3';
import {
  READ_HEAD_SQL,
  WRITE_HEAD_SQL,
  formatHead,
  outcomeHash,
  parseHead,
  reverseHost,
  rowHash,
} from './chain.js';
import {
  CHAINED_INSERT_SQL,
  UPDATE_SQL,
  type ChainedEventRow,
  type EventRow,
  type OutcomeRow,
} from './row-mapping.js';

/** A transaction function: (rows, outcome updates) → hosts new to audit_hosts. Run it with `.immediate()`. */
export function chainedBatch(db: Database.Database, seenHosts: ReadonlySet<string> = new Set()) {
  const insert = db.prepare<ChainedEventRow>(CHAINED_INSERT_SQL);
  const update = db.prepare<OutcomeRow>(UPDATE_SQL);
  const readHead = db.prepare(READ_HEAD_SQL).pluck();
  const writeHead = db.prepare(WRITE_HEAD_SQL);
  const addHost = db.prepare(`INSERT OR IGNORE INTO audit_hosts (rev, host) VALUES (?, ?)`);
  return db.transaction((records: EventRow[], updates: OutcomeRow[]) => {
    let head = parseHead(readHead.get() as string | undefined);
    const newHosts: string[] = [];
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
      // A duplicate id (a retried write) is ignored and does not advance the chain.
      if (insert.run({ ...r, seq, chain_hash, outcome_hash }).changes === 1) head = { seq, hash: chain_hash };
      if (!seenHosts.has(r.host)) {
        addHost.run(reverseHost(r.host), r.host);
        newHosts.push(r.host);
      }
    }
    for (const u of updates) update.run(u);
    if (records.length > 0) writeHead.run(formatHead(head));
    return newHosts;
  });
}
