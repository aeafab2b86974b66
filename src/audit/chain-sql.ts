/**
 * The text a chain link hashes, built by SQLite (json_array) instead of in JavaScript: a report that checks
 * tens of thousands of rows then takes two strings per row out of the database instead of ~30 values, which
 * was most of a heavy user's report (better-sqlite3 makes a V8 value of each column).
 *
 * For the values the writer stores (integers, text, null) SQLite's JSON is the text JSON.stringify gives, so
 * sha256(prev + "\n" + this) is the row's chain_hash when the row is intact. Anything else (a real, a blob, a
 * string SQLite escapes differently) yields another text or NULL: the hash does not match and the caller
 * checks that row the slow way (CoverageChecker), so this can only make a check cheaper, never pass a row
 * the slow way would fail.
 */
import { CHAINED_COLUMNS, LATER_CHAINED_COLUMNS } from './chain.js';

const OUTCOME_COLUMNS = ['status', 'bytes_in', 'bytes_out', 'duration_ms', 'completed_ms'] as const;

const isBlob = (alias: string, cols: readonly string[]) =>
  cols.map((c) => `typeof(${alias}.${c}) = 'blob'`).join(' OR ');

/**
 * The JSON of a row's chained values (chain.ts chainedValues): CHAINED_COLUMNS in order, then an object of
 * the later columns that are set, only when one is. NULL when a value is a blob (json_array would throw).
 */
export function chainedJsonSql(alias: string): string {
  const base = CHAINED_COLUMNS.map((c) => `${alias}.${c}`).join(', ');
  const later = LATER_CHAINED_COLUMNS.map((c) => `${alias}.${c}`);
  // json_patch drops the keys whose value is null, as chainedValues leaves unset columns out.
  const setOnly = `json_patch('{}', json_object(${LATER_CHAINED_COLUMNS.map((c) => `'${c}', ${alias}.${c}`).join(', ')}))`;
  return `CASE WHEN ${isBlob(alias, [...CHAINED_COLUMNS, ...LATER_CHAINED_COLUMNS])} THEN NULL
    WHEN ${later.map((c) => `${c} IS NULL`).join(' AND ')} THEN json_array(${base})
    ELSE json_array(${base}, ${setOnly}) END`;
}

/** The JSON of a row's outcome values (chain.ts outcomeLink), NULL when one is a blob. */
export function outcomeJsonSql(alias: string): string {
  return `CASE WHEN ${isBlob(alias, OUTCOME_COLUMNS)} THEN NULL
    ELSE json_array(${OUTCOME_COLUMNS.map((c) => `${alias}.${c}`).join(', ')}) END`;
}
