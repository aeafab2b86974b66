/**
 * PG migration 9, for the reports on PostgreSQL (report-reads.ts): the report access record (as SQLite's
 * report_access) and the indexes every report query is answered from, each in the query's own order
 * (time_ms, node, seq) so a page is an index range, never a sort of the period's rows.
 */
export const PG_REPORTS_MIGRATION = `CREATE TABLE report_access (
     id        bigserial PRIMARY KEY,
     time_ms   bigint NOT NULL,
     by_name   text,
     os_user   text   NOT NULL,
     command   text   NOT NULL,
     subject   text,
     domain    text,
     case_ref  text,
     from_ms   bigint,
     to_ms     bigint,
     format    text,
     outcome   text   NOT NULL,
     reason    text,
     purpose   text,
     out_file  text,
     sudo_user text,
     site      text
   );
   CREATE INDEX report_access_time ON report_access (time_ms);
   CREATE INDEX report_access_case ON report_access (case_ref, time_ms);
   CREATE INDEX audit_events_user_keyset ON audit_events (username, time_ms, node, seq);
   CREATE INDEX audit_events_host_keyset ON audit_events (host, time_ms, node, seq);
   CREATE INDEX audit_events_flagged_keyset ON audit_events (time_ms, node, seq) WHERE flagged = 1;
   CREATE INDEX audit_events_attention_keyset ON audit_events (time_ms, node, seq)
     WHERE action IN ('self-report', 'continue');
   CREATE INDEX audit_events_claimed_time ON audit_events (claimed_user, time_ms)
     WHERE claimed_user IS NOT NULL;
   CREATE INDEX audit_events_rev_host ON audit_events (reverse(host) text_pattern_ops);
   CREATE INDEX audit_events_uncategorised ON audit_events (time_ms, host)
     WHERE categories = '[]' AND selftest_run IS NULL
       AND action IN ('allow', 'warn', 'block', 'continue', 'continued', 'would-block', 'would-warn');`;

/**
 * PG migration 10: report pilot's rows (would-block, would-warn; report-reads.ts PG_ROWS_WHERE.pilot) and
 * the access log's pages (report-access.ts), each an index range in the query's own order (the access
 * record's two indexes of migration 9 are the new ones' prefixes, so they go).
 */
export const PG_PILOT_ACCESS_MIGRATION = `CREATE INDEX audit_events_pilot_keyset ON audit_events (time_ms, node, seq)
     WHERE action IN ('would-block', 'would-warn');
   CREATE INDEX report_access_time_keyset ON report_access (time_ms, id);
   CREATE INDEX report_access_case_keyset ON report_access (case_ref, time_ms, id);
   DROP INDEX report_access_time;
   DROP INDEX report_access_case;`;
