/**
 * What an alert looks like to a person: the e-mail's subject, plain text and HTML.
 *
 * Harmful addresses are never clickable. Mail clients turn anything that looks like an address into a link
 * — in plain text as well as in HTML text (Outlook, Gmail, Apple Mail all do) — so escaping alone is not
 * enough: URLs and search terms are *defanged* everywhere (`hxxps://example[.]com/path`), and the HTML part
 * has no <a> element at all. The exact, undefanged text is in `schoolgate alerts show ID`.
 */
import type { Alert, AlertSeverity } from './types.js';
import { dateTimeFormat } from '../../intl-format.js';

/**
 * `https://self-harm.example/forum?u=x@y.example` → `hxxps://self-harm[.]example/forum?u=x[@]y[.]example`.
 * Every URL scheme a client links (http, https, ftp) loses its `tt`/`t`, every dot between two non-blank
 * characters becomes `[.]` (bare domains anywhere — path, query, a search term — are linked too), and `@`
 * becomes `[@]` (mailto links). A full stop at the end of a sentence is left alone.
 */
export function defang(text: string): string {
  return text
    .replace(/\b(h)tt(ps?)(?=:)/gi, (_m, h: string, p: string) => `${h}xx${p}`)
    .replace(/\bftp(s?)(?=:)/gi, (_m, s: string) => `fxp${s}`)
    .replace(/(?<=\S)\.(?=\S)/g, '[.]')
    .replace(/(?<=\S)@(?=\S)/g, '[@]');
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Control characters (a CR/LF in a header would start a new one) become spaces. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ');
}

const SEVERITY_WORD: Record<AlertSeverity, string> = {
  danger: 'DANGER',
  warning: 'WARNING',
  advisory: 'ADVISORY',
};

const SEVERITY_COLOUR: Record<AlertSeverity, string> = {
  danger: '#b00020',
  warning: '#b35c00',
  advisory: '#1f5fa8',
};

function formatTime(ms: number, timeZone: string): string {
  try {
    return dateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'short',
    }).format(new Date(ms));
  } catch {
    return new Date(ms).toISOString();
  }
}

function who(alert: Alert): string {
  return alert.user ?? `guest at ${alert.clientIp}`;
}

/**
 * The subject names severity, rule and user, and never the URL or search term.
 *
 * The username is included on purpose. The mail goes only to the school's own safeguarding addresses (the
 * DSL and deputies, `to` in the config), over TLS to the school's relay; the DSL has to act within minutes,
 * and a subject that says who lets them triage from the inbox list or a phone notification without opening
 * every alert — the same information the mail body carries anyway. It is the login name schoolgate knows,
 * not a full name. What is *not* in the subject is the content (the search term, the site): subjects show
 * on lock screens and in notification previews to whoever is near the phone.
 */
export function alertSubject(alert: Alert): string {
  const times = alert.count > 1 ? ` (${alert.count} times)` : '';
  const test = alert.test ? '[TEST] ' : '';
  return oneLine(
    `[schoolgate] ${test}${SEVERITY_WORD[alert.severity]}: ${alert.rule} - ${who(alert)}${times}`,
  );
}

interface Field {
  label: string;
  value: string;
}

function fields(alert: Alert, timeZone: string): Field[] {
  const out: Field[] = [];
  out.push({ label: 'Severity', value: alert.severity });
  out.push({ label: 'Rule', value: alert.list ? `${alert.rule} (list: ${alert.list})` : alert.rule });
  out.push({ label: 'User', value: alert.user ?? '(not signed in: guest)' });
  if (alert.profile) out.push({ label: 'Profile', value: alert.profile });
  out.push({
    label: 'Device',
    value: alert.device ? `${alert.device} (${alert.clientIp})` : alert.clientIp,
  });
  if (alert.searchTerm !== null) out.push({ label: 'Search', value: defang(alert.searchTerm) });
  if (alert.url !== null) out.push({ label: 'Address', value: defang(alert.url) });
  out.push({
    label: 'When',
    value:
      alert.count > 1
        ? `${alert.count} times, first ${formatTime(alert.firstTime, timeZone)}, last ${formatTime(alert.lastTime, timeZone)}`
        : formatTime(alert.firstTime, timeZone),
  });
  out.push({ label: 'Alert id', value: alert.id });
  if (alert.auditRowIds.length > 0) {
    const shown = alert.auditRowIds.slice(0, 20);
    const more = alert.auditRowIds.length - shown.length;
    out.push({ label: 'Audit rows', value: shown.join(', ') + (more > 0 ? ` and ${more} more` : '') });
  }
  return out.map((f) => ({ label: f.label, value: oneLine(f.value) }));
}

const FOOTER =
  'Addresses and search terms are defanged so that nothing here is a link: [.] stands for a dot, hxxp for http. ' +
  'Do not visit the site to check it. The exact record: schoolgate alerts show ';

const TEST_NOTE = 'This is a test alert sent by `schoolgate alerts test`; no pupil did anything.';

export function alertText(alert: Alert, timeZone: string): string {
  const list = fields(alert, timeZone);
  const width = Math.max(...list.map((f) => f.label.length)) + 2;
  const lines = [
    `Safeguarding alert: ${SEVERITY_WORD[alert.severity]}`,
    '',
    ...(alert.test ? [TEST_NOTE, ''] : []),
    ...list.map((f) => `${`${f.label}:`.padEnd(width)}${f.value}`),
    '',
    `${FOOTER}${alert.id}`,
    '',
  ];
  return lines.join('\n');
}

/** A small HTML part: one table, inline styles, escaped text, no links, no images, no remote content. */
export function alertHtml(alert: Alert, timeZone: string): string {
  const colour = SEVERITY_COLOUR[alert.severity];
  const rows = fields(alert, timeZone)
    .map(
      (f) =>
        `<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">${escapeHtml(f.label)}</th>` +
        `<td style="padding:2px 0;font-family:monospace">${escapeHtml(f.value)}</td></tr>`,
    )
    .join('\n');
  return [
    '<!doctype html>',
    '<html><head><meta charset="utf-8"></head>',
    '<body style="font-family:sans-serif;font-size:14px">',
    `<p style="font-size:16px;font-weight:bold;color:${colour}">Safeguarding alert: ${SEVERITY_WORD[alert.severity]}</p>`,
    alert.test ? `<p>${escapeHtml(TEST_NOTE)}</p>` : '',
    `<table style="border-collapse:collapse">\n${rows}\n</table>`,
    `<p style="color:#555">${escapeHtml(FOOTER + alert.id)}</p>`,
    '</body></html>',
    '',
  ]
    .filter((l) => l !== '')
    .join('\n');
}
