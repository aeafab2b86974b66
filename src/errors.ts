/**
 * Every error a technician can meet carries a stable code, the context it happened in and what to do next.
 * Codes are documented in docs/errors.md; test/unit/errors.test.ts keeps the two in sync.
 * One place renders them: renderError() below (used by the CLI and the server's startup path).
 */
export const ERROR_CODES = {
  SG_CONFIG_INVALID: 'The configuration file has a field with a wrong value or an unknown key.',
  SG_CONFIG_UNREADABLE: 'The configuration file could not be read or is not valid YAML.',
  SG_CATEGORY_INVALID: 'A category list or the category metadata file is malformed.',
  SG_CATEGORY_UNKNOWN: 'A profile or command names a category that does not exist.',
  SG_PROFILE_UNKNOWN: 'A user, network, device or command names a profile that does not exist.',
  SG_USER_EXISTS: 'A user with that name already exists.',
  SG_USER_UNKNOWN: 'No user with that name exists.',
  SG_ARGUMENT_INVALID: 'A command-line argument has a wrong value.',
  SG_HOSTS_FILE_INVALID: 'The hosts file has a line that is not "address name [name...]".',
  SG_AUDIT_UNAVAILABLE:
    'The audit database cannot be written (read-only, locked or disk full); requests are refused.',
  SG_LISTEN_FAILED: 'The proxy could not listen on its address and port.',
  SG_TARGET_INVALID: 'A request target (URL or CONNECT authority) is malformed.',
  SG_REPORT_REFUSED:
    'A report or case command was refused: missing --case/--by/--reason, not a person or role in reports.people, or the OS user may not pull reports (recorded).',
  SG_CASE_UNKNOWN: 'No case with that reference exists.',
  SG_PURGE_REFUSED:
    'audit purge was refused: no --by or --reason, or a retention shorter than reports.minimumRetentionDays (recorded).',
  SG_ALERT_UNKNOWN: 'No safeguarding alert with that id exists (recorded as a refused access).',
  SG_ALERT_ACKED: 'The safeguarding alert is already acknowledged; an acknowledgement is never overwritten.',
  SG_ALERT_SINK_FAILED:
    '`alerts test`: a configured alert sink (webhook, e-mail) did not deliver the test alert.',
  SG_CASE_EXISTS: 'A case with that reference already exists.',
  SG_CASE_CLOSED: 'The case is closed; a closed case is a finished record.',
  SG_SUBJECT_UNKNOWN: 'A case subject names no user or device that exists; the case is not opened.',
  SG_AUDIT_TAMPERED: 'The audit hash chain is broken: a row was edited or deleted outside schoolgate.',
  SG_ENTRY_INVALID:
    'A list entry given to a `lists` command is not a domain, IP address or host/path prefix.',
  SG_CATEGORY_EXISTS: 'A category with that name already exists (shipped or local).',
  SG_CATEGORY_IN_USE: 'A profile still uses the category that a command would delete.',
  SG_FILE_UNREADABLE: 'A file or directory named on the command line cannot be read.',
  SG_CSV_INVALID: 'A row of a CSV file given to `users import` is malformed; nothing was changed.',
  SG_NETWORK_INVALID: 'A network (CIDR) or device (address) is malformed, already present or not present.',
  SG_NOT_RUNNING: 'The command needs a running proxy, and none answers on the control socket.',
  SG_LIST_LOCKED: 'Another list change holds the local layer lock; nothing was changed.',
  SG_RELOAD_FAILED:
    'The running proxy could not load the new lists or config; it keeps serving the old ones.',
  SG_CATEGORY_SHRANK:
    'A reload would shrink a category by more than lists.maxShrinkShare; refused unless `reload --force`.',
  SG_ALREADY_RUNNING:
    'Another schoolgate serves this data directory (lock file or control socket); this one does not start.',
  SG_AUDIT_DAMAGED:
    'The audit database fails its check at start (quick_check or integrity_check); schoolgate does not start.',
  SG_AUDIT_REPLACED:
    'The audit database is missing, empty, another one or rolled back against the head recorded beside it; schoolgate does not start.',
  SG_LIST_FILE_INVALID:
    'A list file is not UTF-8 text (binary data, NUL bytes) or has too many invalid lines; it was not loaded.',
  SG_LIST_WORKER_FAILED:
    'The worker thread that builds the list index stopped or failed without an answer; the lists in force stay (at start: not started).',
  SG_IMPORT_FORMAT_WRONG:
    'A `lists import` source does not look like the --format given (a plain list read as adblock, a hosts file read as plain); nothing was imported.',
  SG_ENDPOINTS_INVALID:
    "The table of search, translate and archive endpoints (shipped or the school's own) is malformed.",
  SG_CA_UNUSABLE:
    'HTTPS inspection is on but the school CA cannot sign (expired, key missing, unreadable or not the certificate’s): inspected HTTPS is refused.',
  SG_ILLEGAL_TIER_UNUSABLE:
    'An illegal-content list file (IWF, CTIRU) is missing, unreadable or corrupt: at start every request is blocked, at reload the lists in force stay.',
  SG_UPSTREAM_CERT_REFUSED:
    'An origin presented a certificate a browser would refuse (no subjectAltName, weak key, SHA-1/MD5 signature); not re-signed.',
  SG_ACCESS_LOG_UNWRITABLE:
    'The text access log (accessLog.path) cannot be opened for appending; schoolgate does not start.',
  SG_LOGO_INVALID:
    'The block-page logo (branding.logoFile) is missing, too large or not a PNG, JPEG, GIF or WebP image; schoolgate does not start.',
  SG_EXCEPTION_INVALID:
    'A stored exception cannot be read (an invalid site or scope); the proxy does not load the new policy.',
  SG_EXCEPTION_UNKNOWN: 'No exception with that id is in force (unknown, or already removed).',
  SG_DIRECTORY_UNAVAILABLE:
    'The school directory (identity.ldap) could not be reached or did not answer in time; sign-ins not cached get onOutage.',
  SG_AUDIT_SIGNING_FAILED:
    'The audit checkpoint signing key cannot be read or used: rows are still committed, but no signed checkpoints are written.',
  SG_CONSOLE_USER_INVALID:
    'A `console users` command names an account that does not exist or already exists, or a role that is not headteacher, dsl, technician or auditor.',
  SG_CONSOLE_DIRECTORY_UNAVAILABLE:
    'A console sign-in with directory credentials (console.directory) was refused: the directory (identity.ldap) could not be reached, did not answer in time, or is not configured. Local console accounts still sign in.',
  SG_CONSOLE_FORBIDDEN:
    'A console page is outside the signed-in person’s role (a technician asking for a person’s report): 403, and the refusal is recorded.',
  SG_CONSOLE_IMPORT_REFUSED:
    'A console import was refused before it started: another import is still running, or the upload is larger than console.importMaxKiB.',
  SG_LIST_DOWNLOAD_FAILED:
    '`lists update` could not fetch a source or its checksum file (network, TLS, HTTP status, size limit); the provider layer in force stays.',
  SG_LIST_CHECKSUM_MISMATCH:
    '`lists update`: a downloaded tarball does not match its published checksum (or the checksum file has no line for it); the provider layer in force stays.',
  SG_LIST_ARCHIVE_INVALID:
    '`lists update`: a tarball is broken, too big unpacked, or holds a path outside its folder, a link out or a device; nothing of it was imported.',
  SG_STORE_MIGRATE_REFUSED:
    '`store migrate` refused: the SQLite chain does not verify, the target already holds rows for the node, or the copy did not verify; nothing was kept.',
  SG_WORKER_FAILED:
    'serve --workers N: a proxy worker exited before it listened (the start fails), died while serving (it is replaced), could not answer a command from its primary, or workers died more than 5 times within 60 s (the service stops and exits 1).',
  SG_POLICY_CONFLICT:
    'store: { postgres }: a policy edit on this node was refused because another node published a version first; this node applied that one.',
  SG_POLICY_SYNC_FAILED:
    'store: { postgres }: the shared policy could not be fetched, published or applied; the policy in force keeps filtering.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SchoolgateError extends Error {
  readonly code: ErrorCode;
  readonly context: Record<string, unknown>;
  readonly suggestion: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { context?: Record<string, unknown>; suggestion?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SchoolgateError';
    this.code = code;
    this.context = opts.context ?? {};
    this.suggestion = opts.suggestion;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, context: this.context, suggestion: this.suggestion };
  }
}

export function isSchoolgateError(err: unknown): err is SchoolgateError {
  return err instanceof SchoolgateError;
}

/** The one place errors are turned into text for a person. */
export function renderError(err: unknown): string {
  if (isSchoolgateError(err)) {
    const lines = [`error ${err.code}: ${err.message}`];
    if (err.suggestion) lines.push(`  what to do: ${err.suggestion}`);
    return lines.join('\n');
  }
  const message = err instanceof Error ? err.message : String(err);
  return `error: ${message}`;
}
