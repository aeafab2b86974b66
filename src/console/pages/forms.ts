/** What the technician's pages share: reading a form's fields, a table, the "done" line, the redirect back. */
import type { FastifyReply } from 'fastify';
import { SchoolgateError } from '../../errors.js';
import { html, type SafeHtml } from '../../proxy/pages/html.js';

/** One form field, trimmed; '' when absent. */
export const field = (o: unknown, k: string): string => {
  const v = (o as Record<string, unknown> | undefined)?.[k];
  return typeof v === 'string' ? v.trim().slice(0, 2000) : '';
};

/** An optional field: undefined when left empty (the CLI's option not given). */
export const optional = (o: unknown, k: string): string | undefined => field(o, k) || undefined;

/** The reason a change is recorded with: the console asks for one every time. */
export function reasonOf(body: unknown): string {
  const reason = field(body, 'reason');
  if (!reason)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', 'a change needs a reason', {
      suggestion: 'say why, e.g. "new VLAN; ticket 123"',
    });
  return reason;
}

export const doneNote = (q: unknown): SafeHtml | string => {
  const done = (q as Record<string, string | undefined>).done;
  return done ? html`<p role="status">${done}</p>` : '';
};

/** A table with these column heads over these rows. */
export const tableOf = (heads: string[], rows: SafeHtml[]): SafeHtml =>
  html`<table>
    <thead>
      <tr>
        ${heads.map((h) => html`<th>${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows}
    </tbody>
  </table>`;

/** 303 back to the page, with what was done for its status line. */
export const back = (reply: FastifyReply, page: string, said: string) =>
  reply
    .code(303)
    .header('location', `${page}?done=${encodeURIComponent(said)}`)
    .send();
