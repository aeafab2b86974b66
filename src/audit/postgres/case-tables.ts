/**
 * PG migration 7: the investigation's own tables on PostgreSQL, as SQLite's (migrations.ts 2, 6, 7): legal
 * holds, cases with their subjects and notes, and the record of every purge with its counts per day. They
 * are shared by every node: a hold placed on one node keeps the rows of every node's chain.
 * Chained by the ledger from PG migration 11 (ledger.ts); the purge's anchors in chain_gaps are
 * vouched for by the node's signed checkpoint after the purge.
 */
export const PG_CASES_MIGRATION = `CREATE TABLE holds (
     id             bigserial PRIMARY KEY,
     kind           text   NOT NULL CHECK (kind IN ('user', 'device', 'address')),
     value          text   NOT NULL,
     reason         text   NOT NULL,
     by_name        text   NOT NULL,
     os_user        text   NOT NULL,
     created_ms     bigint NOT NULL,
     released_ms    bigint,
     released_by    text,
     release_reason text
   );
   CREATE TABLE cases (
     ref        text PRIMARY KEY,
     subject    text   NOT NULL,
     status     text   NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
     opened_ms  bigint NOT NULL,
     opened_by  text   NOT NULL,
     os_user    text   NOT NULL,
     closed_ms  bigint,
     closed_by  text,
     outcome    text
   );
   CREATE TABLE case_subjects (
     ref   text NOT NULL REFERENCES cases (ref),
     kind  text NOT NULL CHECK (kind IN ('user', 'device', 'address')),
     value text NOT NULL,
     UNIQUE (ref, kind, value)
   );
   CREATE TABLE case_notes (
     id      bigserial PRIMARY KEY,
     ref     text   NOT NULL REFERENCES cases (ref),
     time_ms bigint NOT NULL,
     author  text   NOT NULL,
     os_user text   NOT NULL,
     text    text   NOT NULL
   );
   CREATE INDEX case_notes_ref ON case_notes (ref, time_ms);
   CREATE TABLE purges (
     id             bigserial PRIMARY KEY,
     started_ms     bigint  NOT NULL,
     finished_ms    bigint,
     os_user        text    NOT NULL,
     by_name        text,
     reason         text,
     retention_days integer NOT NULL,
     cutoff_ms      bigint  NOT NULL,
     deleted        bigint  NOT NULL DEFAULT 0,
     held           bigint  NOT NULL DEFAULT 0,
     dropped        text    NOT NULL DEFAULT '[]'
   );
   CREATE TABLE purge_days (
     purge_id bigint NOT NULL REFERENCES purges (id),
     day      text   NOT NULL,
     deleted  bigint NOT NULL,
     PRIMARY KEY (purge_id, day)
   );`;
