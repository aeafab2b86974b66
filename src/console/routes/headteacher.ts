/**
 * The headteacher's pages: cases (list, open with a subject and a first note, show with notes and the
 * record of reports pulled under it) and a person's report under a case, rendered by the CLI's own
 * render-html (printable) or exported as CSV. Each report is checked and recorded in report_access (person,
 * role, case, purpose) before a byte of it is sent. Case references travel in the query string, never in a
 * path, and nothing here opens a file by a name a request gave.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { subjectsFrom } from '../../audit/case-subjects.js';
import type { CaseStore } from '../../audit/case-store.js';
import { checkCaseRef } from '../../audit/cases.js';
import { html } from '../../proxy/pages/html.js';
import { currentOsUser } from '../../reports/access.js';
import { buildUserReport } from '../../reports/build-user.js';
import { renderHtml } from '../../reports/render-html.js';
import { openReadOnly } from '../../reports/source.js';
import { auditPathOf } from '../../reports/run.js';
import { userRefusal } from '../../reports/subjects.js';
import { formatLocal, parsePeriod } from '../../reports/time.js';
import { byOf } from '../access.js';
import { outsideSite, refuseOtherSite } from '../site-scope.js';
import { casesOfSite, otherSiteCase, subjectsOutsideSite } from '../subject-sites.js';
import { sendCsv } from '../download.js';
import { lookThenOpen } from '../review-source.js';
import { formatChoice, formatOf } from './reviews.js';
import { csrfField, guard, sendPage, viewerOf, type ConsoleContext } from '../context.js';
import { withRecords } from '../records.js';

type Query = Record<string, string | undefined>;
interface CaseAction {
  ref: string;
  text: string;
  by: string;
  osUser: string;
  now: number;
}
const field = (o: unknown, k: string): string => {
  const v = (o as Record<string, unknown> | undefined)?.[k];
  return typeof v === 'string' ? v.trim().slice(0, 2000) : '';
};

function see(reply: FastifyReply, location: string) {
  return reply.code(303).header('location', location).send();
}

export function headteacherRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const only = (command: string) => guard(ctx, ['headteacher'], command);
  const tz = ctx.config.timeZone;

  app.get('/cases', { preHandler: only('case list') }, async (req, reply) => {
    const session = req.consoleSession!;
    const viewer = viewerOf(session, reply);
    // A site-scoped headteacher's list holds its site's cases only (every subject of the site).
    const cases = await withRecords(ctx, async (r) => casesOfSite(ctx, session, await r.cases.list(), r));
    return sendPage(
      reply,
      200,
      'Cases',
      html`<table>
          <thead>
            <tr>
              <th>Case</th>
              <th>About</th>
              <th>Status</th>
              <th>Opened</th>
              <th>By</th>
            </tr>
          </thead>
          <tbody>
            ${cases.map(
              (c) =>
                html`<tr>
                  <td><a href="/case?ref=${encodeURIComponent(c.ref)}">${c.ref}</a></td>
                  <td>${c.subject}</td>
                  <td>${c.status}</td>
                  <td>${formatLocal(c.openedMs, tz, false)}</td>
                  <td>${c.openedBy}</td>
                </tr>`,
            )}
          </tbody>
        </table>
        <h2>Open a case</h2>
        <form method="post" action="/cases">
          ${csrfField(viewer.csrf)}
          <label for="ref">Reference</label
          ><input id="ref" name="ref" type="text" required placeholder="2026-014" />
          <label for="subject">Whose records (user name)</label
          ><input id="subject" name="subject" type="text" required />
          <label for="note">What happened, who raised it</label
          ><textarea id="note" name="note" required></textarea>
          <button type="submit">Open the case</button>
        </form>`,
      viewer,
    );
  });

  app.post('/cases', { preHandler: [app.csrfProtection, only('case open')] }, async (req, reply) => {
    const session = req.consoleSession!;
    const ref = checkCaseRef(field(req.body, 'ref'));
    const subjects = subjectsFrom({ users: [field(req.body, 'subject')] });
    const now = ctx.now();
    if (await subjectsOutsideSite(ctx, session, subjects))
      return refuseOtherSite(ctx, session, reply, 'case open', subjects[0]?.value ?? null);
    await withRecords(ctx, async (r) => {
      const refusal = await r.unknownSubjects(subjects);
      await r.authorise(
        session,
        {
          command: 'case open',
          purpose: null,
          caseRef: ref,
          subject: subjects[0]?.value ?? null,
          needsCase: false,
          refusal,
        },
        now,
      );
      await r.cases.open({
        ref,
        subjects,
        by: byOf(session),
        osUser: currentOsUser(),
        now,
        note: field(req.body, 'note'),
      });
    });
    return see(reply, `/case?ref=${encodeURIComponent(ref)}`);
  });

  app.get('/case', { preHandler: only('case show') }, async (req, reply) => {
    const session = req.consoleSession!;
    const viewer = viewerOf(session, reply);
    const ref = checkCaseRef((req.query as Query).ref ?? '');
    const otherCase = await otherSiteCase(ctx, session, ref);
    if (otherCase) return refuseOtherSite(ctx, session, reply, `case show ${ref}`, otherCase.subject);
    const { c, notes, looks } = await withRecords(ctx, async (r) => ({
      c: await r.cases.require(ref),
      notes: await r.cases.notes(ref),
      looks: await r.cases.looks(ref, 200),
    }));
    const firstUser = c.subjects.find((s) => s.kind === 'user')?.value ?? '';
    return sendPage(
      reply,
      200,
      `Case ${c.ref}`,
      html`<p>
          About <strong>${c.subject}</strong>; ${c.status}, opened ${formatLocal(c.openedMs, tz, false)} by
          ${c.openedBy}.
        </p>
        <h2>Notes</h2>
        <ul>
          ${notes.map((n) => html`<li>${formatLocal(n.timeMs, tz, false)} ${n.author}: ${n.text}</li>`)}
        </ul>
        ${
          c.status === 'open'
            ? html`<form method="post" action="/case/note">
                  ${csrfField(viewer.csrf)}<input type="hidden" name="ref" value="${c.ref}" />
                  <label for="note">Add a note (action taken, conversations, decisions)</label>
                  <textarea id="note" name="text" required></textarea>
                  <button type="submit">Add the note</button>
                </form>
                <form method="post" action="/case/close">
                  ${csrfField(viewer.csrf)}<input type="hidden" name="ref" value="${c.ref}" />
                  <label for="outcome">Outcome</label>
                  <input id="outcome" name="text" type="text" required />
                  <button type="submit">Close the case</button>
                </form>`
            : html`<p>Outcome: ${c.outcome}</p>
                <form method="post" action="/case/reopen">
                  ${csrfField(viewer.csrf)}<input type="hidden" name="ref" value="${c.ref}" />
                  <label for="reason">Why it is reopened</label>
                  <input id="reason" name="text" type="text" required />
                  <button type="submit">Reopen the case</button>
                </form>`
        }
        <h2>Pull a person’s report under this case</h2>
        <form method="get" action="/case/report">
          <input type="hidden" name="ref" value="${c.ref}" />
          <label for="user">Person</label
          ><input id="user" name="user" type="text" required value="${firstUser}" />
          <label for="from">From</label><input id="from" name="from" type="date" /> <label for="to">To</label
          ><input id="to" name="to" type="date" /> <label for="purpose">Purpose (recorded)</label
          ><input id="purpose" name="purpose" type="text" required />
          ${formatChoice}
          <button type="submit">Pull the report</button>
        </form>
        <h2>Reports pulled under this case</h2>
        <table>
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>What</th>
              <th>Whose</th>
              <th>Purpose</th>
              <th>Outcome</th>
            </tr>
          </thead>
          <tbody>
            ${looks.map(
              (l) =>
                html`<tr>
                  <td>${formatLocal(l.timeMs, tz, false)}</td>
                  <td>${l.by}</td>
                  <td>${l.command}</td>
                  <td>${l.subject}</td>
                  <td>${l.purpose}</td>
                  <td>${l.outcome}</td>
                </tr>`,
            )}
          </tbody>
        </table>`,
      viewer,
    );
  });

  // Notes, close and reopen: each recorded in report_access like the CLI's `case` commands.
  const changes = {
    note: (cases: CaseStore, a: CaseAction) => cases.note({ ...a, text: a.text }),
    close: (cases: CaseStore, a: CaseAction) => cases.close({ ...a, outcome: a.text }),
    reopen: (cases: CaseStore, a: CaseAction) => cases.reopen({ ...a, reason: a.text }),
  };
  for (const [verb, change] of Object.entries(changes)) {
    app.post(
      `/case/${verb}`,
      { preHandler: [app.csrfProtection, only(`case ${verb}`)] },
      async (req, reply) => {
        const session = req.consoleSession!;
        const ref = checkCaseRef(field(req.body, 'ref'));
        const text = field(req.body, 'text');
        const now = ctx.now();
        const otherCase = await otherSiteCase(ctx, session, ref);
        if (otherCase) return refuseOtherSite(ctx, session, reply, `case ${verb} ${ref}`, otherCase.subject);
        await withRecords(ctx, async (r) => {
          await r.authorise(
            session,
            { command: `case ${verb}`, purpose: null, caseRef: ref, needsCase: false },
            now,
          );
          await change(r.cases, { ref, text, by: byOf(session), osUser: currentOsUser(), now });
        });
        return see(reply, `/case?ref=${encodeURIComponent(ref)}`);
      },
    );
  }

  app.get('/case/report', { preHandler: only('report user') }, async (req, reply) => {
    const session = req.consoleSession!;
    const q = req.query as Query;
    const ref = checkCaseRef(q.ref ?? '');
    const user = (q.user ?? '').trim();
    const purpose = (q.purpose ?? '').trim().slice(0, 500);
    const format = formatOf(q);
    const now = ctx.now();
    const { fromMs, toMs } = parsePeriod(q.from || undefined, q.to || undefined, tz, now);
    const otherCase = await otherSiteCase(ctx, session, ref);
    if (otherCase) return refuseOtherSite(ctx, session, reply, `report user ${ref}`, otherCase.subject);
    if (await outsideSite(ctx, session, user))
      return refuseOtherSite(ctx, session, reply, 'report user', user);
    const { src, close } = await lookThenOpen(
      ctx,
      session,
      {
        command: 'report user',
        purpose,
        subject: user,
        caseRef: ref,
        fromMs,
        toMs,
        format,
        needsCase: true,
        scope: { user },
        refusal: userRefusal(ctx.config, () => openReadOnly(auditPathOf(ctx.config)), user),
      },
      now,
      session.site ?? undefined,
    );
    try {
      const built = await buildUserReport(src, user, fromMs, toMs, {
        by: byOf(session),
        osUser: currentOsUser(),
        caseRef: ref,
      });
      if (format === 'html')
        return reply.code(200).type('text/html; charset=utf-8').send(renderHtml(built.doc));
      return sendCsv(reply, built, src, [ref, user]);
    } finally {
      await close();
    }
  });
}
