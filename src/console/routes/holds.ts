/**
 * The headteacher's legal holds (`schoolgate hold add|list|release`), in the store config.store names
 * (records.ts): reading them is a look (a purpose, recorded first, as `hold list --reason`); placing and
 * releasing them are recorded with their reason as `hold add|release` records them. A site-scoped account
 * sees and changes its site's holds only; another site's is refused and the refusal recorded.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { subjectsFrom, subjectsLabel, type CaseSubject } from '../../audit/case-subjects.js';
import type { Hold } from '../../audit/holds.js';
import { SchoolgateError } from '../../errors.js';
import { html } from '../../proxy/pages/html.js';
import { currentOsUser } from '../../reports/access.js';
import { formatLocal } from '../../reports/time.js';
import { byOf } from '../access.js';
import { csrfField, guard, sendPage, viewerOf, type ConsoleContext } from '../context.js';
import { withRecords } from '../records.js';
import { refuseOtherSite } from '../site-scope.js';
import { holdsOfSite, subjectsOutsideSite } from '../subject-sites.js';
import { type Query } from './reviews.js';

const SUBJECT_KINDS: readonly CaseSubject['kind'][] = ['user', 'device', 'address'];
const text = (o: unknown, k: string, max = 500): string => {
  const v = (o as Record<string, unknown> | undefined)?.[k];
  return typeof v === 'string' ? v.trim().slice(0, max) : '';
};

function holdRow(h: Hold, tz: string, csrf: string, purpose: string) {
  const whose = h.kind === 'user' ? h.value : `${h.kind} ${h.value}`;
  return html`<tr>
    <td>${h.id}</td>
    <td>${whose}</td>
    <td>${formatLocal(h.createdMs, tz, false)} by ${h.by}: ${h.reason}</td>
    <td>
      ${
        h.releasedMs !== null
          ? html`released ${formatLocal(h.releasedMs, tz, false)} by ${h.releasedBy}: ${h.releaseReason}`
          : html`<form method="post" action="/holds/release">
              ${csrfField(csrf)}<input type="hidden" name="id" value="${String(h.id)}" />
              <input type="hidden" name="purpose" value="${purpose}" />
              <label for="release-${h.id}">Why it is released</label>
              <input id="release-${h.id}" name="reason" type="text" required />
              <button type="submit">Release hold ${h.id}</button>
            </form>`
      }
    </td>
  </tr>`;
}

export function holdRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const tz = ctx.config.timeZone;
  const headOnly = (command: string) => guard(ctx, ['headteacher'], command);
  const see = (reply: FastifyReply, location: string) => reply.code(303).header('location', location).send();

  // Legal holds: reading them is a look (a purpose, recorded, as `hold list --reason`); placing and
  // releasing them are recorded with their reason as `hold add|release` records it.
  app.get('/holds', { preHandler: headOnly('hold list') }, async (req, reply) => {
    const session = req.consoleSession!;
    const viewer = viewerOf(session, reply);
    const q = req.query as Query;
    const purpose = (q.purpose ?? '').trim().slice(0, 500);
    const all = q.all === '1';
    const now = ctx.now();
    // Recorded first; a site-scoped headteacher's list holds its site's holds only.
    const shown = purpose
      ? await withRecords(ctx, async (r) => {
          await r.authorise(
            session,
            { command: 'hold list', purpose, needsCase: false, toMs: now, format: 'html' },
            now,
          );
          return holdsOfSite(ctx, session, await r.holds.list({ all }), r);
        })
      : null;
    return sendPage(
      reply,
      200,
      'Legal holds',
      html`<p>Records kept from purging until released, whether or not a case is open.</p>
        <form method="get" action="/holds">
          <label for="purpose">Why you are reading the holds (recorded)</label
          ><input id="purpose" name="purpose" type="text" required value="${purpose}" />
          <label
            ><input type="checkbox" name="all" value="1" ${all ? 'checked' : ''} /> Released holds too</label
          >
          <button type="submit">Show the holds</button>
        </form>
        ${
          shown === null
            ? ''
            : shown.length === 0
              ? html`<p>${all ? 'No holds.' : 'No standing holds.'}</p>`
              : html`<table>
                  <thead>
                    <tr>
                      <th>Hold</th>
                      <th>Whose records</th>
                      <th>Placed</th>
                      <th>Released</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${shown.map((h) => holdRow(h, tz, viewer.csrf, purpose))}
                  </tbody>
                </table>`
        }
        <h2>Place a hold</h2>
        <form method="post" action="/holds">
          ${csrfField(viewer.csrf)}<input type="hidden" name="purpose" value="${purpose}" />
          <label for="kind">Whose records</label>
          <select id="kind" name="kind">
            <option value="user">A user</option>
            <option value="device">A device nobody signed in on</option>
            <option value="address">A client address nobody signed in from</option>
          </select>
          <label for="value">User name, device or address</label
          ><input id="value" name="value" type="text" required />
          <label for="reason">Why (a police referral, a tribunal)</label
          ><input id="reason" name="reason" type="text" required />
          <button type="submit">Place the hold</button>
        </form>`,
      viewer,
    );
  });

  const backToHolds = (reply: FastifyReply, body: unknown) => {
    const purpose = text(body, 'purpose');
    return see(reply, purpose ? `/holds?purpose=${encodeURIComponent(purpose)}` : '/holds');
  };

  app.post('/holds', { preHandler: [app.csrfProtection, headOnly('hold add')] }, async (req, reply) => {
    const session = req.consoleSession!;
    const kind = text(req.body, 'kind') as CaseSubject['kind'];
    const value = text(req.body, 'value', 200);
    const reason = text(req.body, 'reason', 2000);
    if (!SUBJECT_KINDS.includes(kind))
      throw new SchoolgateError('SG_ARGUMENT_INVALID', 'a hold is on a user, a device or an address');
    const subjects = subjectsFrom({
      users: kind === 'user' ? [value] : [],
      devices: kind === 'device' ? [value] : [],
      addresses: kind === 'address' ? [value] : [],
    });
    const now = ctx.now();
    if (await subjectsOutsideSite(ctx, session, subjects))
      return refuseOtherSite(ctx, session, reply, 'hold add', subjectsLabel(subjects) || null);
    await withRecords(ctx, async (r) => {
      const refusal = await r.unknownSubjects(subjects);
      await r.authorise(
        session,
        {
          command: 'hold add',
          purpose: reason || null,
          subject: subjectsLabel(subjects) || null,
          needsCase: false,
          refusal,
        },
        now,
      );
      await r.holds.add({ subjects, reason, by: byOf(session), osUser: currentOsUser(), now });
    });
    return backToHolds(reply, req.body);
  });

  app.post(
    '/holds/release',
    { preHandler: [app.csrfProtection, headOnly('hold release')] },
    async (req, reply) => {
      const session = req.consoleSession!;
      const id = Number(text(req.body, 'id', 20));
      const reason = text(req.body, 'reason', 2000);
      const now = ctx.now();
      if (session.site !== null) {
        const hold = await withRecords(ctx, (r) => r.holds.get(id));
        if (hold && (await subjectsOutsideSite(ctx, session, [hold])))
          return refuseOtherSite(ctx, session, reply, `hold release ${id}`, subjectsLabel([hold]));
      }
      await withRecords(ctx, async (r) => {
        await r.authorise(
          session,
          { command: 'hold release', purpose: reason || null, needsCase: false },
          now,
        );
        await r.holds.release({ id, reason, by: byOf(session), osUser: currentOsUser(), now });
      });
      return backToHolds(reply, req.body);
    },
  );
}
