/**
 * The auditor's pages (a governor, the data-protection officer): the report-access log and the audit
 * log's tamper check, nothing else. Reading the access log is itself a look (it names whose records were
 * pulled), so it is recorded too, first, in the store the log is read from (review-source.ts): on
 * PostgreSQL its report_access, every node's looks. The tamper-check button walks the SQLite file; on
 * PostgreSQL every node's chain and the shared ledger, as `schoolgate audit verify` does (pg-tamper-check.ts).
 */
import type { FastifyInstance } from 'fastify';
import { readLastVerify, type LastVerify } from '../../audit/last-verify.js';
import { verifyAudit } from '../../audit/verify-all.js';
import { html, type SafeHtml } from '../../proxy/pages/html.js';
import { auditPathOf } from '../../reports/run.js';
import { formatLocal } from '../../reports/time.js';
import { csrfField, guard, sendPage, viewerOf, type ConsoleContext } from '../context.js';
import { lookThenOpen } from '../review-source.js';
import { readPgLastVerify, runPgTamperCheck } from '../pg-tamper-check.js';

export function auditorRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const only = (command: string) => guard(ctx, ['auditor'], command);
  const tz = ctx.config.timeZone;
  const auditPath = auditPathOf(ctx.config);
  const onPostgres = ctx.config.store !== 'sqlite';

  app.get('/access-log', { preHandler: only('report access-log') }, async (req, reply) => {
    const session = req.consoleSession!;
    const viewer = viewerOf(session, reply);
    const now = ctx.now();
    const fromMs = now - 90 * 86_400_000;
    const { src, close } = await lookThenOpen(
      ctx,
      session,
      { command: 'report access-log', purpose: 'audit of access', needsCase: false, fromMs, toMs: now },
      now,
      undefined,
    );
    let rows;
    try {
      rows = await src.reads.accessLog({ fromMs, toMs: now + 1, limit: 2000 });
    } finally {
      await close();
    }
    return sendPage(
      reply,
      200,
      'Report-access log',
      html`<h2>Tamper check</h2>
        ${
          onPostgres
            ? html`${PG_TAMPER_NOTE}${tamperCheck(readPgLastVerify(auditPath), tz, viewer.csrf)}`
            : tamperCheck(readLastVerify(auditPath), tz, viewer.csrf)
        }
        <h2>Reports pulled in the last 90 days</h2>
        <table>
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>What</th>
              <th>Whose</th>
              <th>Case</th>
              <th>Site</th>
              <th>Purpose</th>
              <th>Outcome</th>
              <th>Why refused</th>
            </tr>
          </thead>
          <tbody>
            ${rows.reverse().map(
              (r) =>
                html`<tr>
                  <td>${formatLocal(r.timeMs, tz, false)}</td>
                  <td>${r.by}</td>
                  <td>${r.command}</td>
                  <td>${r.subject ?? r.domain}</td>
                  <td>${r.caseRef}</td>
                  <td>${r.site}</td>
                  <td>${r.purpose}</td>
                  <td>${r.outcome}</td>
                  <td>${r.reason}</td>
                </tr>`,
            )}
          </tbody>
        </table>`,
      viewer,
    );
  });

  app.post(
    '/tamper-check',
    { preHandler: [app.csrfProtection, only('audit verify')] },
    async (_req, reply) => {
      const now = ctx.now();
      if (onPostgres) await runPgTamperCheck(ctx.config, auditPath, now);
      // verifyAudit keeps its result (and the signed verified position) in the last-verify file itself.
      else verifyAudit(auditPath, { now });
      return reply.code(303).header('location', '/access-log').send();
    },
  );
}

/** The SQLite file's last full check, and the button that runs one. */
function tamperCheck(last: LastVerify | null, tz: string, csrf: string): SafeHtml {
  return html`<p>
      ${
        last
          ? html`Last check ${formatLocal(last.atMs, tz, false)}:
              <strong>${last.ok ? 'chain intact' : 'CHAIN BROKEN'}</strong> (${last.rows}
              rows${last.firstBreak ? `; first break: ${last.firstBreak}` : ''})`
          : 'The audit log has not been checked yet.'
      }
    </p>
    <form method="post" action="/tamper-check">
      ${csrfField(csrf)}<button type="submit">Check the audit log now</button>
    </form>`;
}

/** On PostgreSQL the check walks every node's chain and the shared ledger, as `audit verify` does. */
const PG_TAMPER_NOTE = html`<p>
  This node records to PostgreSQL, where each node keeps its own chain. The check walks them all, their signed
  checkpoints and the shared record of cases, holds and reports, as <code>schoolgate audit verify</code>
  does on any node (one line per node).
</p>`;
