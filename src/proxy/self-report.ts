/**
 * "I reached this by accident": the block page's button posts the block's reference to
 * `<blocked origin>/.schoolgate/report`. The report is its own audit row (action 'self-report'), linked to
 * the block by reference, so the record safeguards the pupil (the schools' AUP: leave and report it).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Target } from '../policy/types.js';
import { errorBody } from './answers.js';
import { commitRow, type EdgeContext } from './edge-context.js';
import { auditEventFor, type Attempt } from './gatekeeper.js';
import { readForm } from './continue.js';
import { formatTime, html, renderPage } from './pages/html.js';
import { sendPage } from './respond.js';

export const REPORT_PATH = '/.schoolgate/report';
const REFERENCE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function handleSelfReport(
  edge: EdgeContext,
  attempt: Attempt,
  req: IncomingMessage,
  res: ServerResponse,
  target: Target,
  kind: 'request' | 'inspected' = 'request',
): Promise<void> {
  const base = { host: target.host, time: edge.now(), timeZone: edge.config.timeZone, reference: attempt.id };
  const form = req.method === 'POST' ? await readForm(req) : null;
  const reference = form?.get('reference') ?? '';
  if (!REFERENCE.test(reference)) {
    await commitRow(edge, {
      ...auditEventFor(attempt, target, null, { action: 'reject', reason: 'self-report:form', status: 400 }),
      kind,
    });
    return sendPage(res, {
      status: 400,
      close: true,
      body: errorBody(400, base, 'The report could not be read.'),
    });
  }
  const identity = await edge.gatekeeper.identify(attempt);
  const event = auditEventFor(attempt, target, identity ? { identity } : null, {
    action: 'self-report',
    reason: `self-report:${reference}`,
    status: 200,
  });
  event.note = (form?.get('comment') ?? '').slice(0, 1000) || null;
  event.kind = kind;
  if (!(await commitRow(edge, event)))
    return sendPage(res, {
      status: 503,
      close: true,
      body: errorBody(503, base, undefined, 'audit-unavailable'),
    });
  sendPage(res, {
    status: 200,
    body: renderPage({
      title: 'Report recorded',
      tone: 'warn',
      heading: 'Thank you — your report is recorded',
      lead: 'You did the right thing. Close this page now and tell a teacher.',
      body: html`<dl class="details">
        <dt>Address</dt>
        <dd><code>${target.host}</code></dd>
        <dt>Date and time</dt>
        <dd>${formatTime(base.time, base.timeZone)}</dd>
        <dt>Blocked page reference</dt>
        <dd><span class="ref">${reference}</span></dd>
        <dt>Report reference</dt>
        <dd><span class="ref">${attempt.id}</span></dd>
      </dl>`,
    }),
  });
}
