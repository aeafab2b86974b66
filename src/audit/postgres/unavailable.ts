/**
 * A fault of the PostgreSQL audit store as the CLI and the console say it: SG_AUDIT_UNAVAILABLE with the
 * driver's words kept, never the driver's error alone. A timeout is said as one: the server may be up with
 * the audit tables locked by another session, where "check that PostgreSQL is running" would mislead.
 */
import { SchoolgateError } from '../../errors.js';

/** True for the pg driver's and the server's ways of saying a query ran out of time. */
function timedOut(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  // 57014 query_canceled (statement_timeout), 55P03 lock_not_available (lock_timeout).
  return e.code === '57014' || e.code === '55P03' || /timeout|timed out/i.test(e.message ?? '');
}

/**
 * True for what the pg driver throws when the database fails: a server error (it has a severity), a query
 * or connect timeout, a connection cut. Not for this process's own faults (a report file that cannot be
 * written), which keep their own words.
 */
export function isPgFault(err: unknown): boolean {
  if (err instanceof SchoolgateError) return false;
  const e = err as { severity?: unknown; code?: string; message?: string };
  return (
    typeof e.severity === 'string' ||
    ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(e.code ?? '') ||
    /Query read timeout|Connection terminated|timeout exceeded when trying to connect/i.test(e.message ?? '')
  );
}

/** `what` failed on PostgreSQL (e.g. "cannot read the PostgreSQL audit store"). */
export function pgUnavailable(err: unknown, what: string): SchoolgateError {
  if (err instanceof SchoolgateError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new SchoolgateError('SG_AUDIT_UNAVAILABLE', `${what}: ${detail}`, {
    context: { detail },
    suggestion: timedOut(err)
      ? 'PostgreSQL did not answer in time: check that it is running, and whether another session holds a ' +
        'lock on the audit tables (pg_stat_activity, pg_locks); then run the command again'
      : 'check that PostgreSQL is running and reachable with the configured account (`schoolgate status`)',
    cause: err,
  });
}
