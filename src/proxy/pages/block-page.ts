/**
 * The block page: what a pupil or member of staff sees when the filter stops a page. It says, in plain
 * words, that the school's filter blocked it, why, under which profile, when, and the reference to quote
 * to IT; and, following the schools' acceptable-use policies, to close it and tell a teacher if they got
 * there by accident (with the address, date and time shown for that report).
 */
import { displayAddress, formatTime, html, renderPage, safeHref, type SafeHtml } from './html.js';
import type { PageCategory, PageInfo, PageReason } from './types.js';

/** One sentence per reason, for a person who is not technical. 'policy' is worded from the categories. */
export const REASON_TEXT: Readonly<Record<PageReason, string>> = Object.freeze({
  policy: 'The school has chosen not to allow this site.',
  'illegal-tier':
    'This address is on a list of illegal content that the law requires every school to block. It is blocked for everyone and cannot be unblocked.',
  'policy-error':
    'The filter could not check this page properly, so it has been blocked to keep you safe. IT have been told.',
  port: 'This page uses an unusual connection (port) that the school does not allow. Only normal web pages are let through.',
  'ip-literal':
    'This address is a bare number (an IP address) instead of a website name. The school blocks these because they are often used to get around the filter.',
  'client-network': 'This device is not on a school network that the filter serves.',
  'bad-request': 'Your browser sent a request the filter could not understand, so it was not sent on.',
  'audit-unavailable':
    'The filter cannot write its records at the moment, so it cannot let any pages through. Please try again in a few minutes.',
  'upstream-error': 'The website could not be reached.',
});

/** "A", "A and B", "A, B and C". */
export function listInWords(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1] ?? ''}`;
}

/** The category titles, deduplicated, in the order given; the name stands in for an empty title. */
export function categoryTitles(categories: readonly PageCategory[]): string[] {
  const titles: string[] = [];
  for (const c of categories) {
    const title = (c.title || c.name).trim();
    if (title && !titles.includes(title)) titles.push(title);
  }
  return titles;
}

/** The "why" box shared by the block and warn pages. */
export function whyBox(info: PageInfo, verb: 'blocked' | 'restricted'): SafeHtml {
  const reason = info.reason ?? 'policy';
  const titles = categoryTitles(info.categories);
  const explanation = info.explanation.trim();
  if (reason === 'policy' && titles.length > 0) {
    const noun = titles.length === 1 ? 'category' : 'categories';
    const these = titles.length === 1 ? 'this category' : 'these categories';
    const sentence =
      verb === 'blocked'
        ? html`Sites in ${these} are not allowed for the <strong>${info.profile}</strong> group.`
        : html`Sites in ${these} are for business or educational use only.`;
    return html`<section class="why" aria-label="Why">
      <p>This site is in the ${noun}: <span class="cats">${listInWords(titles)}</span>.</p>
      <p>${sentence}</p>
      ${explanation ? html`<p class="small">Filter rule: ${explanation}</p>` : ''}
    </section>`;
  }
  const main = reason === 'policy' && explanation ? explanation : REASON_TEXT[reason];
  const extra = reason !== 'policy' && explanation ? html`<p class="small">Details: ${explanation}</p>` : '';
  return html`<section class="why" aria-label="Why">
    <p>${main}</p>
    ${extra}
  </section>`;
}

/** Profile, user, time and reference as a definition list. */
export function detailsList(info: PageInfo): SafeHtml {
  return html`<dl class="details">
    <dt>Group (profile)</dt>
    <dd>${info.profile}</dd>
    ${
      info.user !== null && info.user !== ''
        ? html`<dt>Signed in as</dt>
            <dd>${info.user}</dd>`
        : ''
    }
    <dt>Date and time</dt>
    <dd>${formatTime(info.time, info.timeZone)}</dd>
    <dt>Reference</dt>
    <dd><span class="ref">${info.reference}</span></dd>
  </dl>`;
}

/** The address the person asked for, always shown (the AUP asks them to report it). */
export function addressBlock(url: string, host: string): SafeHtml {
  const shown = displayAddress(url || host);
  return html`<h2>Address</h2>
    <code class="address">${shown}</code>`;
}

/** Whether the page may offer a way to have the site unblocked: never for the illegal-content tier. */
export function unblockable(reason: PageReason | undefined): boolean {
  return reason !== 'illegal-tier';
}

/** Most characters of a reason the form takes (the proxy refuses longer ones too). */
export const UNBLOCK_REASON_MAX = 500;

/** "Ask for this site to be unblocked": the form, or what became of the last request. */
function unblockSection(info: PageInfo): SafeHtml | '' {
  const offer = info.unblock;
  const action = offer ? safeHref(offer.action) : undefined;
  if (!offer || !action) return '';
  const when = offer.last ? formatTime(offer.last.at, info.timeZone) : '';
  if (offer.last?.status === 'pending')
    return html`<section class="notice" aria-label="Your unblock request">
      <p><strong>You asked for this site to be unblocked on ${when}.</strong> IT have not answered yet.</p>
    </section>`;
  const denied =
    offer.last?.status === 'denied'
      ? html`<p class="denied">
          <strong>Your request was denied</strong>
          (${when})${offer.last.note ? html`: ${offer.last.note}` : '.'}
        </p>`
      : '';
  const f = offer.fields;
  return html`<section class="notice" aria-label="Ask for this site to be unblocked">
    ${denied}
    <form method="post" action="${action}">
      <input type="hidden" name="token" value="${f.token}" />
      <input type="hidden" name="site" value="${f.site}" />
      <input type="hidden" name="ref" value="${f.ref}" />
      <input type="hidden" name="url" value="${f.url}" />
      <label for="unblock-reason">Need this site for school work? Say why, and IT will look at it:</label>
      <textarea
        id="unblock-reason"
        name="reason"
        rows="3"
        maxlength="${String(UNBLOCK_REASON_MAX)}"
        required
      ></textarea>
      <div class="actions"><button class="btn" type="submit">Ask IT to unblock it</button></div>
    </form>
  </section>`;
}

export function renderBlockPage(info: PageInfo): string {
  const reportUrl = safeHref(info.reportAccidentUrl);
  const report = reportUrl
    ? html`<form method="post" action="${reportUrl}">
        <input type="hidden" name="reference" value="${info.reference}" />
        <button class="btn btn-note" type="submit">I reached this by accident</button>
      </form>`
    : '';
  const body = html`${addressBlock(info.url, info.host)} ${whyBox(info, 'blocked')} ${detailsList(info)}
    <section class="notice" aria-label="If this was an accident">
      <p>
        <strong
          >If you reached this by accident, close it and tell a teacher — this record protects you.</strong
        >
      </p>
      <p>Tell them the date and time and the address shown above, or the reference number.</p>
      ${report ? html`<div class="actions">${report}</div>` : ''}
    </section>
    ${
      unblockable(info.reason)
        ? html`${unblockSection(info)}
            <p class="small">
              If you need this page for your school work, ask your teacher or IT to check it, and quote the
              reference number.
            </p>`
        : ''
    }`;
  return renderPage({
    title: 'Blocked by the school web filter',
    tone: 'block',
    heading: 'This page is blocked',
    lead: "The school's web filter has blocked this page.",
    body,
    ...(info.branding ? { branding: info.branding } : {}),
  });
}
