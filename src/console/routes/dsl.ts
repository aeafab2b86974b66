/**
 * The DSL's alerts inbox: open and acknowledged alerts (severity, count, person, what), each acknowledged
 * with a note through the CLI's own acknowledgement (the ack on the alert, and in report_access). The
 * list is a look at personal data, so it is checked and recorded before the page is sent. Both read and
 * record in the configured store (alert-backend.ts): on PostgreSQL, every node's alerts.
 */
import type { FastifyInstance } from 'fastify';
import type { StoredAlert } from '../../audit/alerts-table.js';
import { displayAddress, html } from '../../proxy/pages/html.js';
import { acknowledgeOn } from '../../reports/alert-commands.js';
import { withAlertBackend } from '../../reports/alert-backend.js';
import { currentOsUser } from '../../reports/access.js';
import { formatLocal } from '../../reports/time.js';
import { authoriseLookWith, byOf } from '../access.js';
import { csrfField, guard, sendPage, viewerOf, type ConsoleContext } from '../context.js';
import { knownSites, refuseOtherSite, siteOfLook, siteSelector } from '../site-scope.js';

function alertRow(ctx: ConsoleContext, a: StoredAlert, csrf: string) {
  const when = formatLocal(a.lastTime, ctx.config.timeZone, false);
  const what = a.searchTerm ? `search: ${a.searchTerm}` : displayAddress(a.url ?? '');
  return html`<tr>
    <td class="sev-${a.severity}">${a.severity}</td>
    <td>${when}</td>
    <td>${a.user ?? a.device ?? a.clientIp}</td>
    <td>${a.rule}${a.list ? ` (${a.list})` : ''}</td>
    <td>${what}${a.phrase ? html`<br /><span class="note">phrase: ${a.phrase}</span>` : ''}</td>
    <td>${a.count}</td>
    <td>
      ${
        a.status === 'acked'
          ? html`acknowledged by ${a.ackedBy}<br /><span class="note">${a.ackNote}</span>`
          : html`<form method="post" action="/alerts/${encodeURIComponent(a.id)}/ack">
              ${csrfField(csrf)}
              <label for="note-${a.id}">Note</label>
              <input id="note-${a.id}" name="note" type="text" required maxlength="2000" />
              <button type="submit">Acknowledge</button>
            </form>`
      }
    </td>
  </tr>`;
}

export function dslRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get('/alerts', { preHandler: guard(ctx, ['dsl'], 'alerts list') }, async (req, reply) => {
    const session = req.consoleSession!;
    const showAll = (req.query as Record<string, unknown>).all === '1';
    // In the query: a site-scoped DSL's inbox holds its site's alerts only.
    const site = siteOfLook(session, (req.query as Record<string, unknown>).site);
    const sites = session.site === null ? await knownSites(ctx) : [];
    const now = ctx.now();
    const alerts = await withAlertBackend(ctx.config, async (b) => {
      await authoriseLookWith(
        b.recorder,
        () => null,
        ctx.config,
        session,
        {
          command: 'alerts list',
          purpose: 'alerts inbox',
          needsCase: false,
          toMs: now,
          format: 'html',
          site: site ?? null,
        },
        now,
      );
      return b.alerts.list({ open: !showAll, limit: 500, ...(site !== undefined ? { site } : {}) });
    });
    const viewer = viewerOf(session, reply);
    return sendPage(
      reply,
      200,
      showAll ? 'All alerts' : 'Open alerts',
      html`<p>
          ${showAll ? html`<a href="/alerts">Open alerts only</a>` : html`<a href="/alerts?all=1">Show acknowledged alerts too</a>`}
        </p>
        ${
          session.site === null && sites.length === 0
            ? ''
            : html`<form method="get" action="/alerts">
                ${showAll ? html`<input type="hidden" name="all" value="1" />` : ''}
                ${siteSelector(session, sites, site)}
                ${session.site === null ? html`<button type="submit">Show</button>` : ''}
              </form>`
        }
        ${
          alerts.length === 0
            ? html`<p>No ${showAll ? '' : 'open '}alerts.</p>`
            : html`<table>
                <thead>
                  <tr>
                    <th>Severity</th>
                    <th>Last</th>
                    <th>Person</th>
                    <th>Rule</th>
                    <th>What</th>
                    <th>Count</th>
                    <th>Status</th>
                  </tr>
                </thead>
                <tbody>
                  ${alerts.map((a) => alertRow(ctx, a, viewer.csrf))}
                </tbody>
              </table>`
        }`,
      viewer,
    );
  });

  app.post<{ Params: { id: string } }>(
    '/alerts/:id/ack',
    { preHandler: [app.csrfProtection, guard(ctx, ['dsl'], 'alerts ack')] },
    async (req, reply) => {
      const session = req.consoleSession!;
      const note = String((req.body as Record<string, unknown>)?.note ?? '')
        .trim()
        .slice(0, 2000);
      if (!note) return reply.code(303).header('location', '/alerts').send();
      const otherSite = await withAlertBackend(ctx.config, async (b) => {
        if (session.site !== null) {
          const alert = await b.alerts.get(req.params.id);
          if (alert && alert.site !== session.site) return alert;
        }
        await acknowledgeOn(
          b,
          ctx.config,
          { by: byOf(session), caseRef: null, osUser: currentOsUser(), now: ctx.now() },
          req.params.id,
          note,
        );
        return null;
      });
      if (otherSite) return refuseOtherSite(ctx, session, reply, 'alerts ack', otherSite.user);
      return reply.code(303).header('location', '/alerts').send();
    },
  );
}
