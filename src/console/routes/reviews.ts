/**
 * The DSL's and headteacher's reviews (flagged, weekly) and the headteacher's context report under a case:
 * the same builders and render-html as `schoolgate report flagged|weekly|around` (the legal holds are in
 * holds.ts). Every look at a person's records says why (a required
 * purpose, the CLI's --reason) and is checked and recorded through access.ts before a byte is sent.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkCaseRef } from '../../audit/cases.js';
import { SchoolgateError } from '../../errors.js';
import { html } from '../../proxy/pages/html.js';
import { currentOsUser } from '../../reports/access.js';
import {
  buildAroundReport,
  buildFlaggedReport,
  buildWeeklyReport,
  findEvent,
  type BuiltReport,
  type Puller,
} from '../../reports/builders.js';
import type { ReportSource } from '../../reports/source.js';
import { eventSubject, identityOfEvent } from '../../reports/event-identity.js';
import { renderHtml } from '../../reports/render-html.js';
import { parsePeriod } from '../../reports/time.js';
import type { ConsoleContext } from '../context.js';
import { byOf, type Looker } from '../access.js';
import { sendCsv } from '../download.js';
import { lookThenOpen } from '../review-source.js';
import { guard, sendPage, viewerOf } from '../context.js';
import { knownSites, refuseOtherSite, siteOfLook, siteSelector } from '../site-scope.js';
import { otherSiteCase } from '../subject-sites.js';

export type Query = Record<string, string | undefined>;

const REVIEWS = { flagged: buildFlaggedReport, weekly: buildWeeklyReport } as const;
type ReviewKind = keyof typeof REVIEWS;

/** A printable page, or the CLI's `--format csv` as a download (a look all the same: recorded as 'csv'). */
export function formatOf(q: Query): 'html' | 'csv' {
  return q.format === 'csv' ? 'csv' : 'html';
}

export const formatChoice = html`<label for="format">Format</label>
  <select id="format" name="format">
    <option value="html">Printable page</option>
    <option value="csv">CSV export (as the CLI's --format csv)</option>
  </select>`;

/** A review's period, purpose and format fields (the default period: the last 7 days). */
export const periodFields = html`<label for="since">From (default 7 days ago)</label
  ><input id="since" name="since" type="date" /> <label for="to">To (default now)</label
  ><input id="to" name="to" type="date" /> <label for="purpose">Purpose (recorded)</label
  ><input id="purpose" name="purpose" type="text" required /> ${formatChoice}`;

function sendReport(reply: FastifyReply, body: string) {
  return reply.code(200).type('text/html; charset=utf-8').send(body);
}

function puller(who: Looker, caseRef: string | null, purpose: string) {
  return { by: byOf(who), osUser: currentOsUser(), caseRef, purpose };
}

/** `report around --minutes`: 1–1440, 60 when not given. */
function minutesOf(value: string | undefined): number {
  if (!value) return 60;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1440)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', 'minutes either side must be 1–1440', {
      context: { minutes: value },
    });
  return n;
}

/**
 * A review outside a case over a period (`report flagged|weekly|self-reports --by --reason`): the look is
 * checked and recorded (person, role, purpose, period, html or csv) before it is built and sent.
 */
export async function serveReview(
  ctx: ConsoleContext,
  req: FastifyRequest,
  reply: FastifyReply,
  kind: string,
  build: (src: ReportSource, fromMs: number, toMs: number, by: Puller) => Promise<BuiltReport>,
) {
  const session = req.consoleSession!;
  const q = req.query as Query;
  const purpose = (q.purpose ?? '').trim().slice(0, 500);
  const format = formatOf(q);
  const now = ctx.now();
  const period = parsePeriod(q.since || undefined, q.to || undefined, ctx.config.timeZone, now, '7d');
  const { fromMs, toMs } = period;
  const site = siteOfLook(session, q.site);
  // A site-scoped account's review is its site's, whatever it asks; a trust-wide one may pick a site.
  const { src, close } = await lookThenOpen(
    ctx,
    session,
    {
      command: `report ${kind}`,
      purpose,
      fromMs,
      toMs,
      format,
      needsCase: false,
      roleNeed: 'reviewer',
      site: site ?? null,
    },
    now,
    site,
  );
  try {
    const built = await build(src, fromMs, toMs, puller(session, null, purpose));
    return format === 'csv' ? sendCsv(reply, built, src, [kind]) : sendReport(reply, renderHtml(built.doc));
  } finally {
    await close();
  }
}

export function reviewRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const headOnly = (command: string) => guard(ctx, ['headteacher'], command);

  app.get('/reviews', { preHandler: guard(ctx, ['dsl', 'headteacher'], 'reviews') }, async (req, reply) => {
    const session = req.consoleSession!;
    const sites = session.site === null ? await knownSites(ctx) : [];
    return sendPage(
      reply,
      200,
      'Reviews',
      html`<p>
          The flagged and weekly reviews over a period, as
          <code>schoolgate report flagged|weekly</code> prints them. Each one pulled is recorded with your
          name and purpose.
        </p>
        <form method="get" action="/review">
          <label for="kind">Review</label>
          <select id="kind" name="kind">
            <option value="flagged">Flagged: people with alerts or flagged attempts, ranked</option>
            <option value="weekly">Weekly review, ready to file</option>
          </select>
          ${siteSelector(session, sites, undefined)} ${periodFields}
          <button type="submit">Pull the review</button>
        </form>`,
      viewerOf(session, reply),
    );
  });

  app.get(
    '/review',
    { preHandler: guard(ctx, ['dsl', 'headteacher'], 'report review') },
    async (req, reply) => {
      const q = req.query as Query;
      const kind: ReviewKind = q.kind === 'weekly' ? 'weekly' : 'flagged';
      return serveReview(ctx, req, reply, kind, REVIEWS[kind]);
    },
  );

  // A context report under a case: everything the same person did either side of one audit row.
  app.get('/around', { preHandler: headOnly('report around') }, async (req, reply) => {
    const q = req.query as Query;
    return sendPage(
      reply,
      200,
      'Context report',
      html`<p>
          Everything the same person did either side of one audit row (the reference on the block page or in a
          report), as <code>schoolgate report around REF --case</code>. Pulled under a case and recorded.
        </p>
        <form method="get" action="/around/report">
          <label for="ref">Case</label
          ><input id="ref" name="ref" type="text" required value="${q.ref ?? ''}" />
          <label for="event">Audit reference</label
          ><input id="event" name="event" type="text" required value="${q.event ?? ''}" />
          <label for="minutes">Minutes either side (1–1440)</label
          ><input id="minutes" name="minutes" type="text" inputmode="numeric" value="60" />
          <label for="purpose">Purpose (recorded)</label
          ><input id="purpose" name="purpose" type="text" required />
          ${formatChoice}
          <button type="submit">Pull the context report</button>
        </form>`,
      viewerOf(req.consoleSession!, reply),
    );
  });

  app.get('/around/report', { preHandler: headOnly('report around') }, async (req, reply) => {
    const session = req.consoleSession!;
    const q = req.query as Query;
    const ref = checkCaseRef(q.ref ?? '');
    const event = (q.event ?? '').trim().slice(0, 200);
    const minutes = minutesOf(q.minutes?.trim());
    const purpose = (q.purpose ?? '').trim().slice(0, 500);
    const format = formatOf(q);
    const now = ctx.now();
    const row = await identityOfEvent(ctx.config, event);
    // A site-scoped account: the case and the row must both be its site's (checked before reading).
    const otherCase = await otherSiteCase(ctx, session, ref);
    if (otherCase) return refuseOtherSite(ctx, session, reply, `report around ${ref}`, otherCase.subject);
    if (session.site !== null && row !== null && row.site !== session.site)
      return refuseOtherSite(ctx, session, reply, `report around ${event}`, eventSubject(row, event));
    // Read from the store the node records to (on PostgreSQL: every node's rows), the look recorded first.
    const { src, close } = await lookThenOpen(
      ctx,
      session,
      {
        command: 'report around',
        purpose,
        subject: eventSubject(row, event),
        caseRef: ref,
        format,
        needsCase: true,
        scope: { row, ref: event },
      },
      now,
      session.site ?? undefined,
    );
    try {
      const built = await buildAroundReport(
        src,
        await findEvent(src, event),
        minutes,
        puller(session, ref, purpose),
      );
      return format === 'csv'
        ? sendCsv(reply, built, src, [ref, 'around', event])
        : sendReport(reply, renderHtml(built.doc));
    } finally {
      await close();
    }
  });
}
