/**
 * The one way rows join the hash chain: inside a write transaction (BEGIN IMMEDIATE holds the write lock),
 * read the head, give each row the next seq and its hash, insert, store the new head. The proxy's writer
 * and a CLI command that records a step of its own (`requests approve`) both go through it, so a second
 * writer can never fork the chain.
 */
import type Database from 'better-sqlite3';
import {
  READ_HEAD_SQL,
  type ChainHead,
  WRITE_HEAD_SQL,
  formatHead,
  outcomeHash,
  parseHead,
  reverseHost,
  rowHashAt,
} from './chain.js';
import {
  CHAINED_INSERT_SQL,
  UPDATE_SQL,
  type ChainedEventRow,
  type EventRow,
  type OutcomeRow,
} from './row-mapping.js';
import { chunkSizes, multiRowInsert, multiRowUpdate, repeatsAnId, type Link } from './multi-row.js';

/** A transaction function: (rows, outcome updates) → hosts new to audit_hosts. Run it with `.immediate()`. */
export function chainedBatch(db: Database.Database, seenHosts: ReadonlySet<string> = new Set()) {
  const insertOne = db.prepare<ChainedEventRow>(CHAINED_INSERT_SQL);
  const insertChunk = multiRowInsert(db);
  const update = db.prepare<OutcomeRow>(UPDATE_SQL);
  const updateAll = multiRowUpdate(db);
  const readHead = db.prepare(READ_HEAD_SQL).pluck();
  const writeHead = db.prepare(WRITE_HEAD_SQL);
  const addHost = db.prepare(`INSERT OR IGNORE INTO audit_hosts (rev, host) VALUES (?, ?)`);

  /** The place in the chain of a row that follows `head`. */
  const linkAfter = (head: ChainHead, r: EventRow): Link => {
    const seq = head.seq + 1;
    const chainHash = rowHashAt(head.hash, r, seq);
    const outcome = {
      status: r.status,
      bytes_in: null,
      bytes_out: null,
      duration_ms: null,
      completed_ms: null,
    };
    return { seq, chainHash, outcomeHash: outcomeHash(chainHash, outcome) };
  };

  /** Row by row: a duplicate id (a retried write) is ignored and does not advance the chain. */
  const insertEach = (records: EventRow[], from: number, size: number, head: ChainHead): ChainHead => {
    for (let i = from; i < from + size; i++) {
      const r = records[i]!;
      const l = linkAfter(head, r);
      const row = { ...r, seq: l.seq, chain_hash: l.chainHash, outcome_hash: l.outcomeHash };
      if (insertOne.run(row).changes === 1) head = { seq: l.seq, hash: l.chainHash };
    }
    return head;
  };

  return db.transaction((records: EventRow[], updates: OutcomeRow[]) => {
    let head = parseHead(readHead.get() as string | undefined);
    const links: Link[] = new Array(records.length);
    let from = 0;
    for (const size of chunkSizes(records.length)) {
      let next = head;
      for (let i = from; i < from + size; i++) {
        const l = (links[i] = linkAfter(next, records[i]!));
        next = { seq: l.seq, hash: l.chainHash };
      }
      // A chunk with an ignored row was taken back: redo it row by row, skipping what is ignored.
      head = insertChunk(records, links, from, size) ? next : insertEach(records, from, size, head);
      from += size;
    }
    const newHosts = new Set<string>();
    for (const r of records) {
      if (!seenHosts.has(r.host) && !newHosts.has(r.host)) {
        addHost.run(reverseHost(r.host), r.host);
        newHosts.add(r.host);
      }
    }
    if (repeatsAnId(updates)) for (const u of updates) update.run(u);
    else updateAll(updates);
    if (records.length > 0) writeHead.run(formatHead(head));
    return [...newHosts];
  });
}
