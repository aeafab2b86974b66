/**
 * More of the DSL's pages: self-reports ("I reached this by accident") over a period, each matched or not
 * to the block it names (the weekly review's own query and table, reports/build-reviews.ts), and the
 * waiting unblock requests to pass on to the technician (what `schoolgate requests list` lists). Both show
 * pupils' names: each look says why and is checked and recorded through access.ts before the page is sent.
 */
import type { FastifyInstance } from 'fastify';
import { listRequests } from '../../cli/commands/requests.js';
import { html } from '../../proxy/pages/html.js';
import { buildSelfReports } from '../../reports/builders.js';
import { withAccessRecorder } from '../../reports/access-recorder.js';
import { authoriseLookWith } from '../access.js';
import { requestCells } from '../pages/request-cells.js';
import { guard, sendPage, viewerOf, type ConsoleContext } from '../context.js';
import { periodFields, serveReview, type Query } from './reviews.js';

const purposeOf = (q: Query) => (q.purpose ?? '').trim().slice(0, 500);

export function dslMoreRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const reviewers = (command: string) => guard(ctx, ['dsl', 'headteacher'], command);

  app.get('/self-reports', { preHandler: reviewers('self-reports') }, async (req, reply) =>
    sendPage(
      reply,
      200,
      'Self-reports',
      html`<p>
          Pupils’ “I reached this by accident” reports from the block page, each checked against the block it
          names (unmatched ones are marked). Each pull is recorded with your name and purpose.
        </p>
        <form method="get" action="/self-reports/report">
          ${periodFields}
          <button type="submit">Show the self-reports</button>
        </form>`,
      viewerOf(req.consoleSession!, reply),
    ),
  );

  app.get('/self-reports/report', { preHandler: reviewers('report self-reports') }, async (req, reply) =>
    serveReview(ctx, req, reply, 'self-reports', buildSelfReports),
  );

  // Read-only: the technician decides (approve adds an exception); the DSL passes a request on by its number.
  app.get('/dsl/requests', { preHandler: guard(ctx, ['dsl'], 'requests list') }, async (req, reply) => {
    const session = req.consoleSession!;
    const purpose = purposeOf(req.query as Query);
    const now = ctx.now();
    let rows: Awaited<ReturnType<typeof listRequests>> | null = null;
    if (purpose) {
      await withAccessRecorder(ctx.config, (r) =>
        authoriseLookWith(
          r,
          () => null,
          ctx.config,
          session,
          { command: 'requests list', purpose, needsCase: false, toMs: now, format: 'html' },
          now,
        ),
      );
      rows = await listRequests(ctx.config, false);
    }
    return sendPage(
      reply,
      200,
      'Unblock requests to pass on',
      html`<p>
          Sites pupils and staff asked to have unblocked from a block page, waiting for the technician. To
          pass one on with your view, tell the technician its number; the technician approves or denies it.
        </p>
        <form method="get" action="/dsl/requests">
          <label for="purpose">Why you are reading them (recorded)</label
          ><input id="purpose" name="purpose" type="text" required value="${purpose}" />
          <button type="submit">Show the waiting requests</button>
        </form>
        ${
          rows === null
            ? ''
            : rows.length === 0
              ? html`<p>No waiting unblock requests.</p>`
              : html`<table>
                  <thead>
                    <tr>
                      <th>Number</th>
                      <th>Sent</th>
                      <th>Who</th>
                      <th>Site</th>
                      <th>Their reason</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${rows.map(
                      (r) =>
                        html`<tr>
                          ${requestCells(r)}
                        </tr>`,
                    )}
                  </tbody>
                </table>`
        }`,
      viewerOf(session, reply),
    );
  });
}
