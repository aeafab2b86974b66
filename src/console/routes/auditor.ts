/**
 * The auditor's pages (a governor, the data-protection officer): the report-access log and the audit
 * log's tamper check, nothing else. Reading the access log is itself a look (it names whose records were
 * pulled), so it is recorded too.
 */
import type { FastifyInstance } from 'fastify';
import { readLastVerify } from '../../audit/last-verify.js';
import { listAccess } from '../../audit/report-access.js';
import { verifyAudit } from '../../audit/verify-all.js';
import { html } from '../../proxy/pages/html.js';
import { auditPathOf } from '../../reports/run.js';
import { formatLocal } from '../../reports/time.js';
import { authoriseLook } from '../access.js';
import { csrfField, guard, sendPage, viewerOf, withAudit, type ConsoleContext } from '../context.js';

export function auditorRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const only = (command: string) => guard(ctx, ['auditor'], command);
  const tz = ctx.config.timeZone;
  const auditPath = auditPathOf(ctx.config);

  app.get('/access-log', { preHandler: only('report access-log') }, async (req, reply) => {
    const session = req.consoleSession!;
    const viewer = viewerOf(session, reply);
    const now = ctx.now();
    const fromMs = now - 90 * 86_400_000;
    const rows = withAudit(ctx, (db) => {
      authoriseLook(
        db,
        ctx.config,
        session,
        { command: 'report access-log', purpose: 'audit of access', needsCase: false, fromMs, toMs: now },
        now,
      );
      return listAccess(db, { fromMs, toMs: now + 1, limit: 2000 });
    });
    const last = readLastVerify(auditPath);
    return sendPage(
      reply,
      200,
      'Report-access log',
      html`<h2>Tamper check</h2>
        <p>
          ${
            last
              ? html`Last check ${formatLocal(last.atMs, tz, false)}:
                  <strong>${last.ok ? 'chain intact' : 'CHAIN BROKEN'}</strong> (${last.rows}
                  rows${last.firstBreak ? `; first break: ${last.firstBreak}` : ''})`
              : 'The audit log has not been checked yet.'
          }
        </p>
        <form method="post" action="/tamper-check">
          ${csrfField(viewer.csrf)}<button type="submit">Check the audit log now</button>
        </form>
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
      // verifyAudit keeps its result (and the signed verified position) in the last-verify file itself.
      verifyAudit(auditPath, { now });
      return reply.code(303).header('location', '/access-log').send();
    },
  );
}
