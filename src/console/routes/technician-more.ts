/**
 * More of the technician's pages: exceptions (list, add, remove), unblock requests (list, approve, deny),
 * the admin-changes record with its chain check, and the self-test history. Each calls what the matching
 * CLI command calls (src/cli/commands/exceptions.ts, requests.ts, control.ts, selftest.ts), with the
 * signed-in person as the "by"; a change reloads the running proxy as the CLI's edits do.
 */
import type { FastifyInstance } from 'fastify';
import { parseSince } from '../../cli/commands/control.js';
import {
  addExceptionFor,
  exceptionLine,
  listExceptions,
  removeExceptionFor,
} from '../../cli/commands/exceptions.js';
import { approveRequest, denyRequest, listRequests } from '../../cli/commands/requests.js';
import { selftestHistory } from '../../cli/commands/selftest.js';
import { SchoolgateError } from '../../errors.js';
import { describeScope } from '../../policy/exceptions.js';
import { html } from '../../proxy/pages/html.js';
import { verifyChanges } from '../../state/change-chain.js';
import { withState } from '../../state/store.js';
import { withAccessRecorder } from '../../reports/access-recorder.js';
import { byOf, roleLookEntry } from '../access.js';
import { csrfField, guard, sendPage, viewerOf, type ConsoleContext } from '../context.js';
import { back, doneNote, field, optional, tableOf } from '../pages/forms.js';
import { message } from '../pages/layout.js';
import { requestCells } from '../pages/request-cells.js';

function idOf(body: unknown): number {
  const text = field(body, 'id');
  if (!/^[1-9]\d{0,9}$/.test(text))
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `"${text}" is not a number from the list`, {
      suggestion: 'open the page again and use its buttons',
    });
  return Number(text);
}

export function technicianMoreRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const only = (command: string) => guard(ctx, ['technician'], command);
  const post = (command: string) => ({ preHandler: [app.csrfProtection, only(command)] });

  app.get('/exceptions', { preHandler: only('exceptions list') }, async (req, reply) => {
    const viewer = viewerOf(req.consoleSession!, reply);
    const all = (req.query as Record<string, string | undefined>).all === '1';
    const rows = await listExceptions(ctx.config, all);
    const table =
      rows.length === 0
        ? html`<p>No exceptions${all ? '' : ' in force'}.</p>`
        : tableOf(
            ['Id', 'Site', 'Does', 'For', 'Until', 'Added', 'Reason', 'Remove'],
            rows.map(
              (e) =>
                html`<tr>
                  <td>${String(e.id)}</td>
                  <td>${e.site}</td>
                  <td>${e.action}</td>
                  <td>${describeScope(e.scope)}</td>
                  <td>${e.expiresAt ?? 'no end'}</td>
                  <td>${e.createdBy} ${e.createdAt}</td>
                  <td>${e.reason}</td>
                  <td>
                    ${
                      e.removedAt
                        ? `removed ${e.removedAt} by ${e.removedBy ?? '?'}`
                        : html`<form method="post" action="/exceptions/remove">
                            ${csrfField(viewer.csrf)}
                            <input type="hidden" name="id" value="${String(e.id)}" />
                            <label for="why-${String(e.id)}">Why</label
                            ><input id="why-${String(e.id)}" name="reason" type="text" />
                            <button type="submit">Remove ${String(e.id)}</button>
                          </form>`
                    }
                  </td>
                </tr>`,
            ),
          );
    return sendPage(
      reply,
      200,
      'Exceptions',
      html`${doneNote(req.query)}
        <p>
          ${
            all
              ? html`Every exception, also expired and removed ones.
                  <a href="/exceptions">Only those in force</a>`
              : html`Those in force. <a href="/exceptions?all=1">Also expired and removed ones</a>`
          }
        </p>
        ${table}
        <h2>Add an exception</h2>
        <form method="post" action="/exceptions/add">
          ${csrfField(viewer.csrf)}
          <label for="site">Domain or URL prefix</label><input id="site" name="site" type="text" required />
          <label for="action">Does</label>
          <select id="action" name="action">
            <option value="allow">allow</option>
            <option value="block">block</option>
          </select>
          <label for="scope">For</label>
          <select id="scope" name="scope">
            <option value="user">one user</option>
            <option value="profile">everyone with a profile</option>
            <option value="everyone">everyone</option>
          </select>
          <label for="name">User or profile name (not for everyone)</label
          ><input id="name" name="name" type="text" />
          <label for="expires">Until (e.g. 2w, 3d, 2026-06-30; empty: no end)</label
          ><input id="expires" name="expires" type="text" /> <label for="reason">Reason (recorded)</label
          ><input id="reason" name="reason" type="text" required />
          <button type="submit">Add the exception</button>
        </form>`,
      viewer,
    );
  });

  app.post('/exceptions/add', post('exceptions add'), async (req, reply) => {
    const action = field(req.body, 'action');
    const scope = field(req.body, 'scope');
    const name = optional(req.body, 'name');
    if (scope !== 'everyone' && name === undefined)
      throw new SchoolgateError('SG_ARGUMENT_INVALID', `say which ${scope || 'user or profile'} it is for`, {
        suggestion: 'fill in the user or profile name, or choose everyone',
      });
    const { stored, warning } = await addExceptionFor(ctx.config, field(req.body, 'site'), {
      allow: action === 'allow',
      block: action === 'block',
      ...(scope === 'user' ? { user: name } : scope === 'profile' ? { profile: name } : {}),
      everyone: scope === 'everyone',
      expires: optional(req.body, 'expires'),
      reason: field(req.body, 'reason'),
      by: byOf(req.consoleSession!),
    });
    await ctx.reload();
    return back(
      reply,
      '/exceptions',
      `added ${exceptionLine(stored)}${warning ? `; warning: ${warning}` : ''}`,
    );
  });

  app.post('/exceptions/remove', post('exceptions remove'), async (req, reply) => {
    const removed = await removeExceptionFor(
      ctx.config,
      idOf(req.body),
      byOf(req.consoleSession!),
      optional(req.body, 'reason'),
    );
    await ctx.reload();
    return back(reply, '/exceptions', `removed ${exceptionLine(removed)}`);
  });

  app.get('/requests', { preHandler: only('requests list') }, async (req, reply) => {
    const viewer = viewerOf(req.consoleSession!, reply);
    const all = (req.query as Record<string, string | undefined>).all === '1';
    // The list names who asked: recorded as the technician's look (deciding requests is the technician's job).
    const look = roleLookEntry(
      req.consoleSession!,
      { command: 'requests list', purpose: 'deciding unblock requests', format: 'html' },
      ctx.now(),
    );
    await withAccessRecorder(ctx.config, (r) => r.record(look));
    const rows = await listRequests(ctx.config, all);
    const decide = (id: number) => {
      const n = String(id);
      return html`<form method="post" action="/requests/approve">
          ${csrfField(viewer.csrf)}
          <input type="hidden" name="id" value="${n}" />
          <label for="approve-note-${n}">Note</label><input id="approve-note-${n}" name="note" type="text" />
          <label for="approve-expires-${n}">Until (empty: no end)</label
          ><input id="approve-expires-${n}" name="expires" type="text" />
          <button type="submit">Approve ${n}</button>
        </form>
        <form method="post" action="/requests/deny">
          ${csrfField(viewer.csrf)}
          <input type="hidden" name="id" value="${n}" />
          <label for="deny-note-${n}">Note (shown to the person)</label
          ><input id="deny-note-${n}" name="note" type="text" />
          <button type="submit">Deny ${n}</button>
        </form>`;
    };
    const table =
      rows.length === 0
        ? html`<p>${all ? 'No unblock requests.' : 'No waiting unblock requests.'}</p>`
        : tableOf(
            ['Id', 'Sent', 'Who', 'Site', 'Their reason', 'Decision'],
            rows.map(
              (r) =>
                html`<tr>
                  ${requestCells(r)}
                  <td>
                    ${
                      r.status === 'pending'
                        ? decide(r.id)
                        : `${r.status} by ${r.decidedBy ?? '?'} ${r.decidedAt ?? ''}${r.note ? `: ${r.note}` : ''}`
                    }
                  </td>
                </tr>`,
            ),
          );
    return sendPage(
      reply,
      200,
      'Unblock requests',
      html`${doneNote(req.query)}
        <p>
          ${
            all
              ? html`Every request (newest 1000). <a href="/requests">Only the waiting ones</a>`
              : html`Waiting, oldest first. Approving adds an allow exception for the person who asked.
                  <a href="/requests?all=1">Also the decided ones</a>`
          }
        </p>
        ${table}`,
      viewer,
    );
  });

  app.post('/requests/approve', post('requests approve'), async (req, reply) => {
    const { request, exception, rowError } = await approveRequest(ctx.config, idOf(req.body), {
      by: byOf(req.consoleSession!),
      note: optional(req.body, 'note'),
      expires: optional(req.body, 'expires'),
    });
    if (rowError) ctx.logger.error({ request: request.id }, rowError);
    await ctx.reload();
    const said = `approved request ${request.id}; added ${exceptionLine(exception!)}`;
    return back(reply, '/requests', rowError ? `${said}; ERROR: ${rowError}` : said);
  });

  app.post('/requests/deny', post('requests deny'), async (req, reply) => {
    const { request, rowError } = await denyRequest(ctx.config, idOf(req.body), {
      by: byOf(req.consoleSession!),
      note: optional(req.body, 'note'),
    });
    if (rowError) ctx.logger.error({ request: request.id }, rowError);
    const said = `denied request ${request.id} (${request.site})`;
    return back(reply, '/requests', rowError ? `${said}; ERROR: ${rowError}` : said);
  });

  app.get('/changes', { preHandler: only('changes') }, async (req, reply) => {
    const viewer = viewerOf(req.consoleSession!, reply);
    const q = req.query as Record<string, string | undefined>;
    // A page, unlike the CLI, starts from the last 30 days: the whole record can be long.
    const sinceText = (q.since ?? '').trim().slice(0, 100) || '30d';
    const action = (q.action ?? '').trim().slice(0, 100);
    let check = html``;
    let broken = false;
    if (q.verify === '1') {
      const result = await withState(ctx.config.dataDir, (s) => verifyChanges(s.db));
      broken = !result.ok;
      check = result.ok
        ? html`<p role="status">
            ${`Chain check: ok, ${result.rows} changes chained${result.head ? `; head change ${result.head.id} ${result.head.hash}` : ''}.`}
          </p>`
        : html`${message(
              `The admin-changes record is broken at change ${result.firstBreak!.id}: ${result.firstBreak!.reason}`,
            )}
            <p class="note">
              Keep a copy of state.sqlite as it is now (evidence), compare it with the last good backup, and
              tell the headteacher. (SG_AUDIT_TAMPERED, ${String(result.rows)} changes verified before it)
            </p>`;
    }
    const since = parseSince(sinceText);
    const rows = await withState(ctx.config.dataDir, (s) =>
      s.changes.list({ since, ...(action ? { action } : {}) }),
    );
    return sendPage(
      reply,
      broken ? 409 : 200,
      'Admin changes',
      html`${check}
        <form method="get" action="/changes">
          <label for="since">Since (date, date-time, or e.g. 7d, 12h)</label
          ><input id="since" name="since" type="text" value="${sinceText}" />
          <label for="action-prefix">Actions starting with (e.g. lists, exceptions)</label
          ><input id="action-prefix" name="action" type="text" value="${action}" />
          <button type="submit">Show</button>
          <button type="submit" name="verify" value="1">Check the chain</button>
        </form>
        ${
          rows.length === 0
            ? html`<p>No changes recorded.</p>`
            : tableOf(
                ['When', 'Who', 'Action', 'What', 'Before → after', 'Reason'],
                rows.map(
                  (r) =>
                    html`<tr>
                      <td>${r.at}</td>
                      <td>${r.by ? `${r.by} (as ${r.osUser})` : r.osUser}</td>
                      <td>${r.action}</td>
                      <td>${r.target}</td>
                      <td>
                        ${
                          r.before !== null || r.after !== null
                            ? `${JSON.stringify(r.before)} → ${JSON.stringify(r.after)}`
                            : ''
                        }
                      </td>
                      <td>${r.reason ?? ''}</td>
                    </tr>`,
                ),
              )
        }`,
      viewer,
    );
  });

  app.get('/selftest', { preHandler: only('selftest --history') }, async (req, reply) => {
    const viewer = viewerOf(req.consoleSession!, reply);
    const { runs, probes } = await selftestHistory(ctx.config);
    return sendPage(
      reply,
      200,
      'Self-test results',
      html`<h2>Recorded runs</h2>
        ${
          runs.length === 0
            ? html`<p>No selftest runs recorded (run <code>schoolgate selftest --record</code>).</p>`
            : tableOf(
                ['When', 'Run', 'Passed', 'Failed', 'By'],
                runs.map(
                  (r) =>
                    html`<tr>
                      <td>${r.at}</td>
                      <td>${String(r.id)}</td>
                      <td>${String(r.passed)}</td>
                      <td class="${r.failed > 0 ? 'error' : ''}">${String(r.failed)}</td>
                      <td>${r.by ? `${r.by} (as ${r.osUser})` : r.osUser}</td>
                    </tr>`,
                ),
              )
        }
        <h2>Probes in the audit log</h2>
        <p class="note">Left out of every report, review and alert.</p>
        ${
          probes.length === 0
            ? html`<p>No selftest probes in the audit log.</p>`
            : probes.map(
                (p) =>
                  html`<h3>Probe run ${p.run} (${p.first}, ${String(p.rows.length)} rows)</h3>
                    ${tableOf(
                      ['Time', 'Action', 'Status', 'Site', 'Categories'],
                      p.rows.map(
                        (r) =>
                          html`<tr>
                            <td>${r.time}</td>
                            <td>${r.action}</td>
                            <td>${String(r.status ?? '-')}</td>
                            <td>${r.host}${r.path ?? ''}</td>
                            <td>${r.categories.join(', ')}</td>
                          </tr>`,
                      ),
                    )}`,
              )
        }`,
      viewer,
    );
  });
}
