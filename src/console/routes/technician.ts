/**
 * The technician's pages: the live status (the same control-socket answer `schoolgate status` reads),
 * lists (find which categories match a site in the running proxy's lists; add or remove an entry with a
 * reason, through the CLI's own list edits and admin-changes record, then a reload of the running proxy).
 * No personal reports: those routes refuse the technician (guard, recorded).
 */
import type { FastifyInstance } from 'fastify';
import { controlRequest } from '../../app/control.js';
import { reloadRunning } from '../../app/reload-record.js';
import type { StatusReport } from '../../app/status.js';
import { statusLines } from '../../cli/commands/control.js';
import { SchoolgateError } from '../../errors.js';
import { addEntries, removeEntries } from '../../lists/edit.js';
import { parseCliEntry } from '../../lists/entry.js';
import { parseAbsoluteTarget } from '../../policy/target.js';
import type { Decision } from '../../policy/types.js';
import { html, raw } from '../../proxy/pages/html.js';
import { withState } from '../../state/store.js';
import { byOf } from '../access.js';
import { csrfField, guard, sendPage, viewerOf, type ConsoleContext } from '../context.js';
import { back, doneNote, field, reasonOf } from '../pages/forms.js';
import { message } from '../pages/layout.js';

export interface TechnicianDeps {
  /** The running proxy's category matches for a URL (its current lists snapshot). */
  match: (url: string) => { category: string; entry: string; kind: string }[];
  /** The running proxy's decision for a URL under a profile (null: no such profile). */
  decide: (url: string, profile: string) => Decision | null;
}

export function technicianRoutes(app: FastifyInstance, ctx: ConsoleContext, deps: TechnicianDeps): void {
  const only = (command: string) => guard(ctx, ['technician'], command);

  app.get('/status', { preHandler: only('status') }, async (req, reply) => {
    const viewer = viewerOf(req.consoleSession!, reply);
    const status = await controlRequest<StatusReport>(ctx.config.dataDir, 'status', {}, 10_000);
    // The same lines `schoolgate status` prints, one per row.
    return sendPage(
      reply,
      200,
      'Status',
      html`${doneNote(req.query)}
        <pre>${statusLines(status).map((line) => html`${line}${raw('\n')}`)}</pre>
        <h2>Reload</h2>
        <p>
          Load the lists, networks and config again without dropping connections; if a file is broken, the
          lists in force keep serving and this page says why.
        </p>
        <form method="post" action="/status/reload">
          ${csrfField(viewer.csrf)}
          <label for="reload-reason">Reason (recorded)</label
          ><input id="reload-reason" name="reason" type="text" required />
          <label for="force"
            ><input id="force" name="force" type="checkbox" value="1" /> Apply even though a category loses
            more than lists.maxShrinkShare of its entries</label
          >
          <button type="submit">Reload the proxy</button>
        </form>`,
      viewer,
    );
  });

  app.post('/status/reload', { preHandler: [app.csrfProtection, only('reload')] }, async (req, reply) => {
    const r = await reloadRunning(ctx.config, {
      force: field(req.body, 'force') === '1',
      reason: reasonOf(req.body),
      by: byOf(req.consoleSession!),
      recordAlways: true,
    });
    return back(
      reply,
      '/status',
      `reloaded in ${r.ms} ms: ${r.categories} categories, ${r.entries} entries, ${r.profiles} profiles${r.warnings.map((w) => `; warning: ${w}`).join('')}`,
    );
  });

  app.get('/lists', { preHandler: only('lists') }, async (req, reply) => {
    const viewer = viewerOf(req.consoleSession!, reply);
    const q = req.query as Record<string, string | undefined>;
    const find = (q.find ?? '').trim().slice(0, 2000);
    let result = html``;
    if (find) {
      let matches: ReturnType<TechnicianDeps['match']> | null = null;
      try {
        const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(find) ? find : `http://${find}`;
        parseAbsoluteTarget(url);
        matches = deps.match(url);
      } catch {
        result = message(`“${find}” is not a domain or URL.`);
      }
      if (matches)
        result =
          matches.length === 0
            ? html`<p>${find}: in no category.</p>`
            : html`<table>
                <thead>
                  <tr>
                    <th>Category</th>
                    <th>Entry</th>
                    <th>Kind</th>
                  </tr>
                </thead>
                <tbody>
                  ${matches.map(
                    (m) =>
                      html`<tr>
                        <td>${m.category}</td>
                        <td>${m.entry}</td>
                        <td>${m.kind}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`;
    }
    const done = q.done ? html`<p role="status">${q.done}</p>` : '';
    const editForm = (action: 'add' | 'remove') =>
      html`<form method="post" action="/lists/${action}">
        ${csrfField(viewer.csrf)}
        <label for="${action}-category">Category</label
        ><input id="${action}-category" name="category" type="text" required />
        <label for="${action}-entry">Domain or URL prefix</label
        ><input id="${action}-entry" name="entry" type="text" required />
        <label for="${action}-reason">Reason (recorded)</label
        ><input id="${action}-reason" name="reason" type="text" required />
        <button type="submit">
          ${action === 'add' ? 'Add to the category' : 'Remove from the category'}
        </button>
      </form>`;
    return sendPage(
      reply,
      200,
      'Lists',
      html`${done}
        <form method="get" action="/lists">
          <label for="find">Find a site in the lists</label>
          <input id="find" name="find" type="text" value="${find}" />
          <button type="submit">Find</button>
        </form>
        ${result}
        <h2>Add an entry</h2>
        ${editForm('add')}
        <h2>Remove an entry</h2>
        ${editForm('remove')}`,
      viewer,
    );
  });

  app.get('/explain', { preHandler: only('explain') }, async (req, reply) => {
    const viewer = viewerOf(req.consoleSession!, reply);
    const q = req.query as Record<string, string | undefined>;
    const url = (q.url ?? '').trim().slice(0, 2000);
    const profile = (q.profile ?? '').trim().slice(0, 100);
    let result = html``;
    if (url && profile) {
      let d: Decision | null = null;
      try {
        d = deps.decide(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`, profile);
        result = d
          ? html`<dl>
              <dt>Decision</dt>
              <dd><strong>${d.action}</strong> (profile ${d.profile})</dd>
              <dt>Rule</dt>
              <dd>
                ${d.rule.kind}${d.rule.list ? ` ${d.rule.list}` : ''}${d.rule.entry ? ` ${d.rule.entry}` : ''}
              </dd>
              <dt>Why</dt>
              <dd>${d.explanation}</dd>
              <dt>Categories</dt>
              <dd>${d.categories.join(', ') || 'none'}</dd>
            </dl>`
          : message(`There is no profile “${profile}”.`);
      } catch {
        result = message(`“${url}” is not a domain or URL.`);
      }
    }
    return sendPage(
      reply,
      200,
      'Explain',
      html`<form method="get" action="/explain">
          <label for="url">Site or URL</label
          ><input id="url" name="url" type="text" required value="${url}" />
          <label for="profile">Profile</label
          ><input id="profile" name="profile" type="text" required value="${profile}" />
          <button type="submit">Explain</button>
        </form>
        ${result}`,
      viewer,
    );
  });

  for (const action of ['add', 'remove'] as const) {
    app.post(
      `/lists/${action}`,
      { preHandler: [app.csrfProtection, only(`lists ${action}`)] },
      async (req, reply) => {
        const session = req.consoleSession!;
        const category = field(req.body, 'category');
        const reason = field(req.body, 'reason');
        if (!reason)
          throw new SchoolgateError('SG_ARGUMENT_INVALID', 'a list change needs a reason', {
            suggestion: 'say why, e.g. "pupils found it; ticket 123"',
          });
        const entry = parseCliEntry(field(req.body, 'entry'));
        const dirs = { categoriesDir: ctx.config.categoriesDir, dataDir: ctx.config.dataDir };
        const results =
          action === 'add'
            ? await addEntries(dirs, category, [entry])
            : await removeEntries(dirs, category, [entry]);
        const changed = results.filter((r) => r.outcome !== 'duplicate' && r.outcome !== 'not-listed');
        if (changed.length > 0) {
          await withState(ctx.config.dataDir, (s) =>
            s.transaction(() => {
              for (const r of changed)
                s.changes.record({
                  action: `lists.${action}`,
                  target: `${category}: ${r.entry}`,
                  before: action === 'add' ? null : { layer: r.layer, listed: true },
                  after: action === 'add' ? { layer: r.layer, listed: true } : null,
                  reason,
                  by: byOf(session),
                });
            }),
          );
          await ctx.reload();
        }
        const said = results.map((r) => `${r.outcome} ${r.entry}`).join('; ');
        return reply
          .code(303)
          .header('location', `/lists?done=${encodeURIComponent(`${category}: ${said}`)}`)
          .send();
      },
    );
  }
}
