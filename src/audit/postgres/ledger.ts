/**
 * The ledger on PostgreSQL (PG migration 11): SQLite's ledger (../ledger.ts) for the investigation's tables
 * that every node shares — cases, their subjects and notes, holds and their releases, purges with their days
 * and anchors, and report_access. One chain for the whole database, whichever node writes:
 *
 *   ledger(seq, time_ms, tbl, op, rkey, state, hash)   hash = ledgerHash(previous hash, tbl, op, rkey, state)
 *
 * the same hash as SQLite's (ledgerHash, checked by the JS walk below). `state` is the row as JSON, its null
 * columns left out (json_strip_nulls), so a later migration adding a nullable column does not change the
 * state of earlier rows; a migration adding a column with a non-null default must anchor the rows again.
 *
 * Row triggers write the entries, so every write path (CLI, console, purge, store migrate) is chained
 * without knowing it. The chain is serialised across nodes by ledger_head, one row taken FOR UPDATE in the
 * writing transaction. schoolgate's own connections set `schoolgate.writer = on` (connect.ts); a change made
 * by any other session is still entered, as "<op> by hand", and `audit verify` fails naming it. A change
 * with the triggers bypassed (session_replication_role, DISABLE TRIGGER) leaves a row that differs from
 * its last entry: verify names it too. Rows there before migration 11 are entered once as 'anchor': from
 * then on an edit of them is caught like any other; verify says how many there were.
 */
import { GENESIS_HASH, type ChainBreak } from '../chain.js';
import { ledgerHash, type LedgerEntry, type LedgerHead } from '../ledger.js';
import { BIGINT_AS_NUMBER, type Queryable } from './connect.js';

/**
 * The chained tables and how a row is named in the ledger, from the row as jsonb (`j`: one trigger function
 * serves every table, and a record's field can only be named where the table has it).
 */
const PG_LEDGER_KEYS: Record<string, (j: string) => string> = {
  cases: (j) => `${j}->>'ref'`,
  case_subjects: (j) => `(${j}->>'ref') || '/' || (${j}->>'kind') || '/' || (${j}->>'value')`,
  case_notes: (j) => `${j}->>'id'`,
  holds: (j) => `${j}->>'id'`,
  purges: (j) => `${j}->>'id'`,
  purge_days: (j) => `(${j}->>'purge_id') || '/' || (${j}->>'day')`,
  chain_gaps: (j) => `(${j}->>'node') || '/' || (${j}->>'seq')`,
  report_access: (j) => `${j}->>'id'`,
};

export const PG_LEDGER_TABLES = Object.keys(PG_LEDGER_KEYS);

/**
 * What schoolgate itself does to each chained table. `schoolgate.writer` is a marker, not a credential: a
 * session that sets it is entered as schoolgate, so an operation schoolgate never makes (a note or a look
 * changed or deleted, a case deleted) fails verify whoever made it.
 */
const PG_LEDGER_OPS: Record<string, readonly string[]> = {
  cases: ['insert', 'update'],
  case_subjects: ['insert'],
  case_notes: ['insert'],
  holds: ['insert', 'update'],
  purges: ['insert', 'update'],
  purge_days: ['insert', 'update'],
  chain_gaps: ['insert', 'update', 'delete'],
  report_access: ['insert'],
};

/** The row's state as the ledger keeps it (rec: a row of the table, or NEW in a trigger). */
const stateSql = (rec: string) => `json_strip_nulls(to_json(${rec}))::text`;

/** The ledger entry made by a change outside schoolgate's connections: op plus this suffix. */
export const BY_HAND = ' by hand';

const keyCase = (rec: string) =>
  `CASE TG_TABLE_NAME ${Object.entries(PG_LEDGER_KEYS)
    .map(([t, k]) => `WHEN '${t}' THEN ${k(`to_jsonb(${rec})`)}`)
    .join(' ')} END`;

export const PG_LEDGER_MIGRATION = `CREATE TABLE ledger (
     seq     bigint PRIMARY KEY,
     time_ms bigint NOT NULL,
     tbl     text   NOT NULL,
     op      text   NOT NULL,
     rkey    text   NOT NULL,
     state   text,
     hash    text   NOT NULL
   );
   CREATE TABLE ledger_head (
     one  boolean PRIMARY KEY DEFAULT true CHECK (one),
     seq  bigint NOT NULL,
     hash text   NOT NULL
   );
   INSERT INTO ledger_head (seq, hash) VALUES (0, '${GENESIS_HASH}');
   ALTER TABLE checkpoints ADD COLUMN ledger_seq bigint NOT NULL DEFAULT 0,
     ADD COLUMN ledger_hash text NOT NULL DEFAULT '${GENESIS_HASH}';
   CREATE FUNCTION sg_ledger_append(p_tbl text, p_op text, p_key text, p_state text) RETURNS void
   LANGUAGE plpgsql AS $$
   DECLARE h ledger_head%ROWTYPE; next_hash text;
   BEGIN
     SELECT * INTO h FROM ledger_head FOR UPDATE;
     next_hash := encode(sha256(convert_to(h.hash || E'\\n' || p_tbl || E'\\n' || p_op || E'\\n' || p_key
       || E'\\n' || coalesce(p_state, 'null'), 'UTF8')), 'hex');
     INSERT INTO ledger (seq, time_ms, tbl, op, rkey, state, hash)
       VALUES (h.seq + 1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, p_tbl, p_op, p_key,
               p_state, next_hash);
     UPDATE ledger_head SET seq = h.seq + 1, hash = next_hash;
   END $$;
   CREATE FUNCTION sg_ledger_row() RETURNS trigger LANGUAGE plpgsql AS $$
   DECLARE op text := lower(TG_OP);
   BEGIN
     IF coalesce(current_setting('schoolgate.writer', true), '') <> 'on' THEN op := op || '${BY_HAND}'; END IF;
     IF TG_OP = 'DELETE' THEN
       PERFORM sg_ledger_append(TG_TABLE_NAME, op, ${keyCase('OLD')}, NULL);
     ELSE
       PERFORM sg_ledger_append(TG_TABLE_NAME, op, ${keyCase('NEW')}, ${stateSql('NEW')});
     END IF;
     RETURN NULL;
   END $$;
   CREATE FUNCTION sg_ledger_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     RAISE EXCEPTION 'the ledger is append-only: its entries are never changed or deleted';
   END $$;
   CREATE TRIGGER ledger_fixed BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger
     FOR EACH STATEMENT EXECUTE FUNCTION sg_ledger_fixed();
   DO $$ DECLARE a record; BEGIN
     ${PG_LEDGER_TABLES.map(
       (
         t,
       ) => `FOR a IN SELECT ${PG_LEDGER_KEYS[t]!('to_jsonb(r)')} AS k, ${stateSql('r')} AS s FROM ${t} r ORDER BY 1
       LOOP PERFORM sg_ledger_append('${t}', 'anchor', a.k, a.s); END LOOP;`,
     ).join('\n     ')}
   END $$;
   ${PG_LEDGER_TABLES.map(
     (t) => `CREATE TRIGGER ledger_${t} AFTER INSERT OR UPDATE OR DELETE ON ${t}
     FOR EACH ROW EXECUTE FUNCTION sg_ledger_row();`,
   ).join('\n   ')}`;

/** The ledger's head, as the nodes' checkpoints sign it. */
export async function readPgLedgerHead(db: Queryable): Promise<LedgerHead> {
  const { rows } = await db.query<LedgerHead>({
    text: 'SELECT seq, hash FROM ledger_head',
    types: BIGINT_AS_NUMBER,
  });
  return rows[0] ?? { seq: 0, hash: GENESIS_HASH };
}

/** Why the ledger no longer holds what a node's latest checkpoint signed of it (rewritten, cut), or null. */
export async function pgLedgerMismatch(
  db: Queryable,
  signed: { ledger_seq: number; ledger_hash: string },
  walkedTo: LedgerHead,
): Promise<string | null> {
  if (signed.ledger_seq === 0) return null;
  if (walkedTo.seq < signed.ledger_seq)
    return `the ledger (seq ${walkedTo.seq}) is behind a signed checkpoint (seq ${signed.ledger_seq}): entries were deleted`;
  const { rows } = await db.query<{ hash: string }>({
    text: 'SELECT hash FROM ledger WHERE seq = $1',
    values: [signed.ledger_seq],
    types: BIGINT_AS_NUMBER,
  });
  return rows[0]?.hash === signed.ledger_hash
    ? null
    : `the ledger differs from what a signed checkpoint holds at seq ${signed.ledger_seq} (cases, notes, holds or access were rewritten)`;
}

export interface PgLedgerResult {
  ok: boolean;
  entries: number;
  /** Rows already there when the ledger was made (migration 11): entered as anchors, not chained by writes. */
  anchored: number;
  head: LedgerHead;
  firstBreak: ChainBreak | null;
}

const PAGE = 5000;

/**
 * Walks the ledger (each hash from the one before with SQLite's ledgerHash, seq without holes, ending at
 * ledger_head), refuses an entry made outside schoolgate, then compares every row of the chained tables with
 * its last entry: a row changed, added or deleted around the triggers is named with its table and key.
 */
export async function verifyPgLedger(db: Queryable): Promise<PgLedgerResult> {
  const states = new Map<string, string | null>();
  let prev: LedgerHead = { seq: 0, hash: GENESIS_HASH };
  let entries = 0;
  let anchored = 0;
  /** Anchors are the migration's first entries only: one later is a row's state entered by hand. */
  let begun = false;
  const fail = (seq: number | null, id: string | null, reason: string): PgLedgerResult => ({
    ok: false,
    entries,
    anchored,
    head: prev,
    firstBreak: { seq, id, reason },
  });
  const { rows: heads } = await db.query<LedgerHead>({
    text: 'SELECT seq, hash FROM ledger_head',
    types: BIGINT_AS_NUMBER,
  });
  const head = heads[0] ?? null;
  for (;;) {
    const { rows } = await db.query<LedgerEntry>({
      text: `SELECT seq, tbl, op, rkey, state, hash FROM ledger WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`,
      values: [prev.seq],
      types: BIGINT_AS_NUMBER,
    });
    for (const r of rows) {
      if (r.seq !== prev.seq + 1)
        return fail(r.seq, null, `ledger entries ${prev.seq + 1}..${r.seq - 1} are missing`);
      if (r.hash !== ledgerHash(prev.hash, r.tbl, r.op, r.rkey, r.state))
        return fail(r.seq, `${r.tbl} ${r.rkey}`, 'a ledger entry does not match its hash (it was edited)');
      if (r.op.endsWith(BY_HAND))
        return fail(
          r.seq,
          `${r.tbl} ${r.rkey}`,
          `${r.tbl} ${r.rkey} was changed outside schoolgate (${r.op}, edited by hand with SQL)`,
        );
      if (r.op === 'anchor') {
        if (begun)
          return fail(
            r.seq,
            `${r.tbl} ${r.rkey}`,
            `${r.tbl} ${r.rkey}: an anchor after the ledger began (only the migration anchors; entered by hand)`,
          );
        anchored++;
      } else {
        begun = true;
        if (!PG_LEDGER_OPS[r.tbl]?.includes(r.op))
          return fail(
            r.seq,
            `${r.tbl} ${r.rkey}`,
            `${r.tbl} ${r.rkey}: ${r.op} is not something schoolgate does to ${r.tbl} (changed with SQL)`,
          );
      }
      states.set(`${r.tbl}\n${r.rkey}`, r.op === 'delete' ? null : r.state);
      prev = { seq: r.seq, hash: r.hash };
      entries++;
    }
    if (rows.length < PAGE) break;
  }
  if (!head || head.seq !== prev.seq || head.hash !== prev.hash)
    return fail(
      head?.seq ?? null,
      null,
      `the ledger ends at seq ${prev.seq} but its head says ${head ? head.seq : 'nothing'}: entries were removed`,
    );
  for (const [table, key] of Object.entries(PG_LEDGER_KEYS)) {
    const { rows } = await db.query<{ k: string; s: string }>(
      `SELECT ${key('to_jsonb(r)')} AS k, ${stateSql('r')} AS s FROM ${table} r`,
    );
    const seen = new Set<string>();
    for (const { k, s } of rows) {
      const id = `${table}\n${k}`;
      seen.add(id);
      if (!states.has(id) || states.get(id) === null)
        return fail(null, `${table} ${k}`, `${table} ${k}: a row the ledger never recorded (added by hand)`);
      if (states.get(id) !== s)
        return fail(
          null,
          `${table} ${k}`,
          `${table} ${k} differs from its last recorded state (edited by hand)`,
        );
    }
    for (const [id, s] of states)
      if (s !== null && id.startsWith(`${table}\n`) && !seen.has(id)) {
        const name = id.replace('\n', ' ');
        return fail(null, name, `${name} was deleted by hand`);
      }
  }
  return { ok: true, entries, anchored, head: prev, firstBreak: null };
}
