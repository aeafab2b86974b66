/**
 * The generic page for 400, 502, 503 and 504 answers: what went wrong in one line, and the reference.
 */
import { REASON_TEXT } from './block-page.js';
import { displayAddress, formatTime, html, renderPage } from './html.js';
import type { PageReason } from './types.js';

export type ErrorStatus = 400 | 502 | 503 | 504;

export interface ErrorPageInfo {
  status: ErrorStatus;
  /** Picks the reason line; defaults by status (400 → bad-request, 503 → audit-unavailable, else upstream-error). */
  reason?: PageReason;
  /** Replaces the reason line, e.g. "The site did not answer within 30 seconds." (plain text). */
  detail?: string;
  url?: string;
  host?: string;
  /** The audit row id, when one was written. */
  reference?: string | null;
  time: Date;
  timeZone: string;
}

const HEADINGS: Readonly<Record<ErrorStatus, string>> = Object.freeze({
  400: 'This request could not be understood',
  502: 'This site could not be reached',
  503: 'The web filter is not available right now',
  504: 'This site took too long to answer',
});

const DEFAULT_REASON: Readonly<Record<ErrorStatus, PageReason>> = Object.freeze({
  400: 'bad-request',
  502: 'upstream-error',
  503: 'audit-unavailable',
  504: 'upstream-error',
});

const ADVICE: Readonly<Record<ErrorStatus, string>> = Object.freeze({
  400: 'Check the address and try again. If it keeps happening, tell IT and quote the reference number.',
  502: 'The site may be down, or the address may be wrong. Try again later; if it keeps happening, tell IT and quote the reference number.',
  503: 'Try again in a few minutes. If it keeps happening, tell IT and quote the reference number.',
  504: 'The site may be busy. Try again in a minute; if it keeps happening, tell IT and quote the reference number.',
});

export function renderErrorPage(info: ErrorPageInfo): string {
  const status: ErrorStatus = info.status in HEADINGS ? info.status : 502;
  const reasonLine =
    info.detail && info.detail.trim()
      ? info.detail.trim()
      : REASON_TEXT[info.reason ?? DEFAULT_REASON[status]];
  const shown = displayAddress(info.url || info.host || '');
  const body = html`${
      shown
        ? html`<h2>Address</h2>
            <code class="address">${shown}</code>`
        : ''
    }
    <section class="why" aria-label="What happened">
      <p>${reasonLine}</p>
    </section>
    <dl class="details">
      <dt>Error</dt>
      <dd>${String(status)}</dd>
      <dt>Date and time</dt>
      <dd>${formatTime(info.time, info.timeZone)}</dd>
      ${
        info.reference
          ? html`<dt>Reference</dt>
              <dd><span class="ref">${info.reference}</span></dd>`
          : ''
      }
    </dl>
    <p>${ADVICE[status]}</p>`;
  return renderPage({
    title: HEADINGS[status],
    tone: 'error',
    heading: HEADINGS[status],
    lead: 'The school web filter could not complete this request.',
    body,
  });
}
