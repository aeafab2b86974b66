/**
 * `schoolgate requests`: the unblock requests people sent from block pages, queued for the technician.
 * `approve` turns one into an exception for the person who asked (their user, or their profile when they
 * were not signed in) with the approver recorded; `deny` keeps a note the person sees on their next visit.
 * Each decision is in the admin-changes record and has its own audit row (`unblock-approved`/`-denied`)
 * beside the person's `unblock-request` row.
 */
import type { Command } from 'commander';
import { appendAuditEvents } from '../../audit/append.js';
import { newEventId } from '../../audit/event-id.js';
import type { AuditEvent } from '../../audit/types.js';
import type { ReadonlyConfig } from '../../config/load.js';
import { SchoolgateError } from '../../errors.js';
import { migrateLegacyExceptions } from '../../lists/exceptions.js';
import { describeScope, type ExceptionScope } from '../../policy/exceptions.js';
import { auditPathOf } from '../../reports/run.js';
import { addException, type StoredException } from '../../state/exceptions.js';
import { withState, type StateStore } from '../../state/store.js';
import type { UnblockRequest } from '../../state/unblock-requests.js';
import { EXPIRES_HELP, parseExpiry } from '../expiry.js';
import {
  configFrom,
  positiveInt,
  reloadAfterChange,
  withCommonOptions,
  type CommonOptions,
} from '../common.js';
import { exceptionLine, needText } from './exceptions.js';
import { beginPolicyEdit, publishPolicyEdit } from '../policy-edit.js';

type DecideOptions = CommonOptions & { by?: string; note?: string; expires?: string; json?: boolean };

function requestLine(r: UnblockRequest): string {
  const who = r.user ?? `(not signed in, ${r.clientIp})`;
  const outcome =
    r.status === 'pending'
      ? 'waiting'
      : `${r.status} by ${r.decidedBy ?? '?'} ${r.decidedAt ?? ''}${r.note ? `: ${r.note}` : ''}`;
  return `${String(r.id).padStart(4)} ${r.createdAt} ${who} (${r.profile}) ${r.site}: "${r.reason}" [${outcome}]`;
}

/** The waiting request, or SG_ARGUMENT_INVALID saying what became of it. */
function pendingRequest(state: StateStore, id: number): UnblockRequest {
  const r = state.requests.get(id);
  if (!r)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `no unblock request ${id}`, {
      suggestion: 'see `schoolgate requests list --all`',
    });
  if (r.status !== 'pending')
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `unblock request ${id} was already ${r.status}`, {
      context: { decidedBy: r.decidedBy, decidedAt: r.decidedAt },
      suggestion: 'a decision is kept; add or remove an exception with `schoolgate exceptions` to change it',
    });
  return r;
}

/** The audit row of a decision, on the person's record (their user, profile and address). */
function decisionRow(
  r: UnblockRequest,
  action: 'unblock-approved' | 'unblock-denied',
  by: string,
  note: string | null,
  at: number,
): AuditEvent {
  return {
    id: newEventId(at),
    time: at,
    user: r.user,
    profile: r.profile,
    clientIp: r.clientIp,
    device: null,
    method: 'CLI',
    scheme: '',
    host: r.site,
    port: null,
    path: null,
    categories: [],
    action,
    rule: null,
    reason: `${action}:${r.id}`,
    flagged: false,
    status: null,
    note: note ? `by ${by}: ${note}` : `by ${by}`,
  };
}

/** Records the decision's audit row; a failure is said (the decision itself is already kept). */
function recordRow(config: ReadonlyConfig, row: AuditEvent): string | null {
  try {
    appendAuditEvents(auditPathOf(config), [row]);
    return null;
  } catch (err) {
    return `the decision is kept but its audit row was not written: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function reportRowError(error: string | null): void {
  if (!error) return;
  process.exitCode = 1;
  console.error(`error: ${error}`);
}

/** What `requests list` shows: the waiting ones (oldest first), or with `all` every decision too. */
export function listRequests(config: ReadonlyConfig, all: boolean): Promise<UnblockRequest[]> {
  return withState(config.dataDir, (s) => (all ? s.requests.list() : s.requests.list({ status: 'pending' })));
}

export interface Decided {
  request: UnblockRequest;
  exception: StoredException | null;
  /** Set when the decision is kept but its audit row could not be written. */
  rowError: string | null;
}

/** What `requests approve` does (the console's too): an allow exception for whoever asked. No reload. */
export async function approveRequest(
  config: ReadonlyConfig,
  id: number,
  opts: { by?: string | undefined; note?: string | undefined; expires?: string | undefined },
  now = Date.now(),
): Promise<Decided> {
  const by = needText(opts.by, '--by', '"Mr Jones"');
  const note = opts.note === undefined ? null : needText(opts.note, '--note', '"for the project"');
  const expiresAt = opts.expires ? parseExpiry(opts.expires, now, config.timeZone) : null;
  const { request, exception } = await withState(config.dataDir, async (state) => {
    await migrateLegacyExceptions(config.dataDir, state);
    return state.transaction(() => {
      const r = pendingRequest(state, id);
      // Signed in: for that user. A guest is known only by address, which moves: their profile.
      const scope: ExceptionScope = r.user
        ? { kind: 'user', name: r.user }
        : { kind: 'profile', name: r.profile };
      const exception: StoredException = addException(
        state,
        {
          site: r.site,
          action: 'allow',
          scope,
          reason: `unblock request ${r.id}: ${r.reason}${note ? ` (${note})` : ''}`,
          by,
          expiresAt,
          origin: `request:${r.id}`,
        },
        now,
      );
      state.requests.decide(id, { status: 'approved', by, note, exceptionId: exception.id }, now);
      state.changes.record(
        {
          action: 'requests.approve',
          target: `unblock request ${r.id}: ${r.site} for ${describeScope(scope)}`,
          before: { status: 'pending' },
          after: { status: 'approved', exception: exception.id, expiresAt: exception.expiresAt },
          reason: note ?? undefined,
          by,
        },
        now,
      );
      return { request: state.requests.get(id)!, exception };
    });
  });
  const rowError = recordRow(config, decisionRow(request, 'unblock-approved', by, note, now));
  return { request, exception, rowError };
}

/** What `requests deny` does: the decision and its note kept, shown to the person on their next visit. */
export async function denyRequest(
  config: ReadonlyConfig,
  id: number,
  opts: { by?: string | undefined; note?: string | undefined },
  now = Date.now(),
): Promise<Decided> {
  const by = needText(opts.by, '--by', '"Mr Jones"');
  const note = opts.note === undefined ? null : needText(opts.note, '--note', '"use the library site"');
  const request = await withState(config.dataDir, (state) =>
    state.transaction(() => {
      const r = pendingRequest(state, id);
      state.requests.decide(id, { status: 'denied', by, note, exceptionId: null }, now);
      state.changes.record(
        {
          action: 'requests.deny',
          target: `unblock request ${r.id}: ${r.site} for ${r.user ?? r.subject}`,
          before: { status: 'pending' },
          after: { status: 'denied', note },
          reason: note ?? undefined,
          by,
        },
        now,
      );
      return state.requests.get(id)!;
    }),
  );
  const rowError = recordRow(config, decisionRow(request, 'unblock-denied', by, note, now));
  return { request, exception: null, rowError };
}

export function registerRequests(program: Command): void {
  const cmd = program
    .command('requests')
    .description('unblock requests sent from block pages: list, approve (becomes an exception), deny')
    .addHelpText(
      'after',
      '\nExamples:\n  schoolgate requests list\n  schoolgate requests approve 4 --by "Mr Jones" --expires 2w --note "for the project"\n  schoolgate requests deny 5 --by IT --note "use the school library site instead"',
    );

  withCommonOptions(cmd.command('list'))
    .description('waiting requests (oldest first): who, site, reason, when')
    .option('--all', 'also the approved and denied ones (newest 1000)')
    .option('--json', 'JSON output')
    .action(async (opts: CommonOptions & { all?: boolean; json?: boolean }) => {
      const config = configFrom(opts);
      const rows = await listRequests(config, opts.all === true);
      if (opts.json) return void console.log(JSON.stringify(rows));
      if (rows.length === 0) console.log(opts.all ? 'no unblock requests' : 'no waiting unblock requests');
      for (const r of rows) console.log(requestLine(r));
    });

  withCommonOptions(cmd.command('approve'))
    .description('approve a request: an allow exception for the person who asked; reloads a running proxy')
    .argument('<id>', 'the request number `requests list` shows', positiveInt)
    .option('--by <name>', 'who approved it (required)')
    .option('--expires <when>', EXPIRES_HELP)
    .option('--note <text>', 'a note kept with the decision')
    .option('--json', 'JSON output')
    .action(async (id: number, opts: DecideOptions) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const { request, exception, rowError } = await approveRequest(config, id, opts);
      reportRowError(rowError);
      if (!opts.json) console.log(`approved ${requestLine(request)}\nadded ${exceptionLine(exception!)}`);
      const reload = await reloadAfterChange(config.dataDir, opts.json);
      if (opts.json) console.log(JSON.stringify({ request, exception, ...reload }));
    });

  withCommonOptions(cmd.command('deny'))
    .description('deny a request; the person sees the note on their next visit')
    .argument('<id>', 'the request number `requests list` shows', positiveInt)
    .option('--by <name>', 'who denied it (required)')
    .option('--note <text>', 'why, shown to the person who asked')
    .option('--json', 'JSON output')
    .action(async (id: number, opts: DecideOptions) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const { request, rowError } = await denyRequest(config, id, opts);
      reportRowError(rowError);
      await publishPolicyEdit(config.dataDir);
      if (opts.json) console.log(JSON.stringify({ request }));
      else console.log(`denied ${requestLine(request)}`);
    });
}
