/** What every console route works with: the config, the stores, the clock, the running proxy's reload. */
import type {} from '@fastify/cookie';
import type {} from '@fastify/csrf-protection';
import type Database from 'better-sqlite3';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError } from '../errors.js';
import { openAdmin } from '../reports/run.js';
import type { ConsoleAccounts, Role } from './accounts.js';
import type { ImportJobs } from './imports.js';
import { roleRefusalEntry } from './access.js';
import type { AccessEntry } from '../audit/report-access.js';
import { withAccessRecorder } from '../reports/access-recorder.js';
import { csrfField, message, page, type Viewer } from './pages/layout.js';
import type { Session, Sessions } from './sessions.js';
import type { DirectorySignIn } from './directory-sign-in.js';
import { html, type SafeHtml } from '../proxy/pages/html.js';

export const SESSION_COOKIE = '__Host-sg-console';

export interface ConsoleContext {
  config: ReadonlyConfig;
  logger: Logger;
  now: () => number;
  accounts: ConsoleAccounts;
  sessions: Sessions;
  /** Sign-in with directory credentials (console.directory); null: local accounts only. */
  directory: DirectorySignIn | null;
  /** Reloads the running proxy's lists (what `schoolgate reload` does); resolves with its answer. */
  reload: () => Promise<unknown>;
  /** The technician's imports, one at a time (imports.ts). */
  imports: ImportJobs;
}

/** The writable audit connection for one request (access records, cases, acks), closed after `fn`. */
export function withAudit<T>(ctx: ConsoleContext, fn: (db: Database.Database) => T): T {
  // On PostgreSQL the SQLite file is not this node's record: say so rather than show a stale or empty view.
  if (ctx.config.store !== 'sqlite')
    throw new SchoolgateError(
      'SG_AUDIT_UNAVAILABLE',
      'This page does not yet read the PostgreSQL audit store this node records to, so it shows nothing.',
      {
        suggestion:
          'The reviews (flagged, weekly, self-reports), a person’s report, cases and holds read PostgreSQL; for the rest use the CLI',
      },
    );
  const db = openAdmin(ctx.config);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** The live session of this request; an account removed or given another role or site since ends it. */
export function sessionOf(ctx: ConsoleContext, req: FastifyRequest): Session | null {
  const id = req.cookies[SESSION_COOKIE];
  const s = ctx.sessions.get(id);
  const account = s ? ctx.accounts.get(s.name) : null;
  if (s && (account?.role !== s.role || (account.site ?? null) !== s.site)) {
    ctx.sessions.end(id);
    return null;
  }
  return s;
}

export function viewerOf(session: Session, reply: FastifyReply): Viewer {
  return { name: session.name, role: session.role, csrf: reply.generateCsrf() };
}

export function sendPage(
  reply: FastifyReply,
  status: number,
  title: string,
  body: SafeHtml,
  viewer: Viewer | null,
  refreshSeconds?: number,
) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(page(title, body, viewer, refreshSeconds));
}

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession?: Session;
  }
}

/** A refused page recorded in the store's report_access (PostgreSQL's on PostgreSQL), before the 403. */
export async function recordRefusal(ctx: ConsoleContext, entry: AccessEntry): Promise<void> {
  await withAccessRecorder(ctx.config, (r) => r.record(entry));
}

/**
 * A preHandler for a page of these roles: no session → the sign-in page; another role → 403, the refusal
 * recorded in report_access (who, role, what was asked) before the page is sent.
 */
export function guard(ctx: ConsoleContext, roles: readonly Role[], command: string) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const session = sessionOf(ctx, req);
    if (!session) return reply.code(303).header('location', '/sign-in').send();
    if (!roles.includes(session.role)) {
      const subject =
        typeof (req.query as Record<string, unknown>)?.user === 'string'
          ? ((req.query as Record<string, string>).user ?? null)
          : null;
      const refused = roleRefusalEntry(session, `${command} ${req.url}`, subject, ctx.now());
      await recordRefusal(ctx, refused);
      return sendPage(
        reply,
        403,
        'Not for your role',
        html`${message(`The ${session.role} role may not open this page. The refusal is recorded.`)}
          <p class="note">
            Code SG_CONSOLE_FORBIDDEN. Personal reports are pulled by the headteacher or the DSL under a case.
          </p>`,
        viewerOf(session, reply),
      );
    }
    req.consoleSession = session;
    return undefined;
  };
}

export { csrfField };
