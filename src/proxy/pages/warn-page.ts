/**
 * The warn page for "restricted" categories (the schools' AUP: "for business/educational use only").
 * A Continue button posts the hidden fields to the continue action; continuing is recorded, and the
 * permission lasts until `grantUntil`. No script: the button is a plain HTML form.
 */
import { addressBlock, detailsList, whyBox } from './block-page.js';
import { dateTimeFormat } from '../../intl-format.js';
import { formatClock, formatTime, html, renderPage, safeHref } from './html.js';
import type { PageInfo } from './types.js';

export interface WarnPageInfo extends PageInfo {
  /**
   * Where Continue posts to. The page's CSP allows `form-action 'self'` only, so this should be a path the
   * proxy answers on the warned host's own origin (e.g. '/.schoolgate/continue').
   */
  continueAction: string;
  /** Hidden form fields, e.g. { token, url }. Names and values are escaped. */
  continueFields: Record<string, string>;
  /** Where "Go back" leads; without it the link leaves to a blank page. */
  goBackUrl?: string;
  /** When the permission given by Continue ends. */
  grantUntil: Date;
  /** The site the permission covers (the registrable host); defaults to `host`. */
  site?: string;
}

function sameCalendarDay(a: Date, b: Date, timeZone: string): boolean {
  const day = (d: Date): string => {
    try {
      return dateTimeFormat('en-GB', { timeZone }).format(d);
    } catch {
      return dateTimeFormat('en-GB', { timeZone: 'UTC' }).format(d);
    }
  };
  return day(a) === day(b);
}

/** "until 15:30 today" or "until Tuesday, 3 March 2026 at 08:00:00 GMT". */
export function describeUntil(until: Date, now: Date, timeZone: string): string {
  return sameCalendarDay(until, now, timeZone)
    ? `until ${formatClock(until, timeZone)} today`
    : `until ${formatTime(until, timeZone)}`;
}

export function renderWarnPage(info: WarnPageInfo): string {
  const action = safeHref(info.continueAction);
  if (action === null) {
    throw new TypeError(`renderWarnPage: continueAction must be a same-origin path or an http(s) URL`);
  }
  const back = safeHref(info.goBackUrl);
  const site = info.site || info.host;
  const hidden = Object.entries(info.continueFields).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}" /> `,
  );
  const body = html`${addressBlock(info.url, info.host)} ${whyBox(info, 'restricted')}
    <p>You may continue only if you need this site for your school work or your job.</p>
    <section class="notice" aria-label="Continuing is recorded">
      <p>
        <strong>If you continue, this is recorded</strong>:
        ${info.user ? html`your name (<strong>${info.user}</strong>)` : 'this device'}, the time and the
        address.
      </p>
      <p>
        You will not be asked again for
        <strong>${site}</strong> ${describeUntil(info.grantUntil, info.time, info.timeZone)}.
      </p>
    </section>
    <div class="actions">
      <form method="post" action="${action}">
        ${hidden}<button class="btn btn-primary" type="submit">Continue</button>
      </form>
      <a class="btn btn-secondary" href="${back ?? 'about:blank'}">Go back</a>
    </div>
    ${detailsList(info)}
    <p class="small">
      If you reached this by accident, leave it and tell a teacher — this record protects you.
    </p>`;
  return renderPage({
    title: 'Restricted site: for business or educational use only',
    tone: 'warn',
    heading: 'Restricted site',
    lead: 'This site is restricted: for business or educational use only.',
    body,
    ...(info.branding ? { branding: info.branding } : {}),
  });
}
