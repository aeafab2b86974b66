/**
 * HTML building blocks for the proxy's own pages: escaping, a tagged template that escapes by default,
 * and the shared page shell (self-contained: inline CSS, no scripts, no external assets).
 *
 * Contract: every value interpolated into `html` is escaped unless it is a SafeHtml (made by `html` itself
 * or by `raw()`). Attribute values must always be quoted in templates; URLs placed in href/action go
 * through `safeHref()` first.
 */
import { dateTimeFormat } from '../../intl-format.js';
import { BRANDING_STYLE, brandingHeader, contactLine, type PageBranding } from './branding.js';

/**
 * The Content-Security-Policy sent with every page the proxy renders. No script may run; styles are inline;
 * forms may only post back to the page's own origin (the proxy answers on the warned host's origin).
 */
export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** Every header the server should send with a rendered page (the status line is the caller's). */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': PAGE_CSP,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
});

/** A string that is already HTML. Only `html` and `raw()` make one. */
export class SafeHtml {
  readonly html: string;
  constructor(htmlText: string) {
    this.html = htmlText;
  }
  toString(): string {
    return this.html;
  }
}

/** Marks trusted markup so `html` inserts it as is. Never pass request data through this. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

const ENTITY: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/*
 * Characters that are escaped or made visible:
 * - the five HTML specials;
 * - C0 controls and DEL (shown as Unicode control pictures, so "\r\nFAKE LINE" in a URL is visible as
 *   "␍␊FAKE LINE" rather than silently folded);
 * - C1 controls, bidi embedding/override/isolate marks, line/paragraph separators and lone surrogates
 *   (replaced by U+FFFD, so an address cannot be displayed reversed or split).
 */
const UNSAFE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[&<>"']|[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function replacement(ch: string): string {
  const entity = ENTITY[ch];
  if (entity !== undefined) return entity;
  const code = ch.charCodeAt(0);
  if (code < 0x20) return String.fromCharCode(0x2400 + code);
  if (code === 0x7f) return '\u2421';
  return '\ufffd';
}

/** Escapes a value for HTML text or a quoted attribute. null/undefined become ''. */
export function escapeHtml(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(UNSAFE, replacement);
}

const URL_INVISIBLE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]/g;

/**
 * An address as a person should see it: control, bidi and invisible characters percent-encoded (as they
 * travel on the wire), so "\r\nFAKE LINE" shows as "%0D%0AFAKE LINE" in any font. Escape the result too.
 */
export function displayAddress(address: string): string {
  return address.replace(URL_INVISIBLE, (ch) =>
    Array.from(Buffer.from(ch, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

function interpolate(value: unknown): string {
  if (value instanceof SafeHtml) return value.html;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(interpolate).join('');
  return escapeHtml(value);
}

/** Tagged template: escapes every interpolated value unless it is SafeHtml; arrays are joined. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) {
    out += interpolate(values[i]) + (strings[i + 1] ?? '');
  }
  return new SafeHtml(out);
}

/**
 * Returns the URL if it is safe to put in an href or form action: an http(s) URL, or a path on the same
 * origin ('/x', not '//x' or '/\x'). Otherwise null (javascript:, data:, control characters, ...).
 */
export function safeHref(url: string | undefined | null): string | null {
  if (typeof url !== 'string' || url.length === 0 || url.length > 8192) return null;
  // eslint-disable-next-line no-control-regex -- refuse any control character or whitespace in a link
  if (/[\u0000-\u0020\u007f-\u009f\\]/.test(url)) return null;
  if (url.startsWith('/')) return url.startsWith('//') ? null : url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? url : null;
}

/**
 * Formats an instant in the school's time zone, en-GB, e.g. "Monday, 2 March 2026 at 14:05:09 GMT".
 * An unknown time zone falls back to UTC rather than failing the page.
 */
export function formatTime(time: Date, timeZone: string): string {
  const options: Intl.DateTimeFormatOptions = {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  };
  if (Number.isNaN(time.getTime())) return 'unknown time';
  try {
    return dateTimeFormat('en-GB', { ...options, timeZone }).format(time);
  } catch {
    return dateTimeFormat('en-GB', { ...options, timeZone: 'UTC' }).format(time);
  }
}

/** Short clock time in the school's time zone, e.g. "15:30". */
export function formatClock(time: Date, timeZone: string): string {
  const options: Intl.DateTimeFormatOptions = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  try {
    return dateTimeFormat('en-GB', { ...options, timeZone }).format(time);
  } catch {
    return dateTimeFormat('en-GB', { ...options, timeZone: 'UTC' }).format(time);
  }
}

export type PageTone = 'block' | 'warn' | 'error';

export interface PageShell {
  /** The document title (plain text). */
  title: string;
  tone: PageTone;
  /** The big heading (plain text). */
  heading: string;
  /** The sentence under the heading. */
  lead: SafeHtml | string;
  body: SafeHtml;
  /** The school's name, logo and contact line (config branding). */
  branding?: PageBranding;
}

const ICONS: Record<PageTone, SafeHtml> = {
  block: raw(
    '<svg class="icon" viewBox="0 0 48 48" width="48" height="48" aria-hidden="true" focusable="false">' +
      '<circle cx="24" cy="24" r="20" fill="none" stroke="currentColor" stroke-width="5"/>' +
      '<line x1="10" y1="38" x2="38" y2="10" stroke="currentColor" stroke-width="5"/></svg>',
  ),
  warn: raw(
    '<svg class="icon" viewBox="0 0 48 48" width="48" height="48" aria-hidden="true" focusable="false">' +
      '<path d="M24 4 L46 43 H2 Z" fill="none" stroke="currentColor" stroke-width="4" stroke-linejoin="round"/>' +
      '<line x1="24" y1="17" x2="24" y2="30" stroke="currentColor" stroke-width="5" stroke-linecap="round"/>' +
      '<circle cx="24" cy="36.5" r="2.8" fill="currentColor"/></svg>',
  ),
  error: raw(
    '<svg class="icon" viewBox="0 0 48 48" width="48" height="48" aria-hidden="true" focusable="false">' +
      '<circle cx="24" cy="24" r="20" fill="none" stroke="currentColor" stroke-width="4"/>' +
      '<line x1="24" y1="13" x2="24" y2="28" stroke="currentColor" stroke-width="5" stroke-linecap="round"/>' +
      '<circle cx="24" cy="35" r="2.8" fill="currentColor"/></svg>',
  ),
};

const BRAND: Record<PageTone, string> = {
  block: 'School web filter',
  warn: 'School web filter',
  error: 'School web filter',
};

/*
 * One stylesheet for every page. Readable on a phone (fluid width, 48px touch targets) and on a classroom
 * projector (large type that grows with the viewport, strong contrast, no thin greys).
 */
const STYLE = `
:root{--accent:#b91c1c;--accent-soft:#fef2f2;--ink:#111827;--muted:#374151;--line:#d1d5db;--note:#1d4ed8;--note-soft:#eff6ff}
.tone-warn{--accent:#b45309;--accent-soft:#fffbeb}
.tone-error{--accent:#1f2937;--accent-soft:#f3f4f6}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:#e5e7eb;color:var(--ink);font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans","DejaVu Sans",sans-serif;font-size:clamp(17px,0.9rem + 0.45vw,24px);line-height:1.5}
main{max-width:44rem;margin:2rem auto;background:#fff;border-radius:14px;border-top:12px solid var(--accent);box-shadow:0 2px 12px rgba(0,0,0,.12);padding:1.5rem 1.75rem 1.75rem}
.brand{display:flex;align-items:center;gap:.75rem;margin:0 0 .5rem;color:var(--accent);font-weight:700;letter-spacing:.02em;text-transform:uppercase;font-size:.8em}
.icon{width:2.6em;height:2.6em;flex:none}
h1{margin:.25rem 0 .5rem;font-size:2em;line-height:1.2;color:var(--accent)}
h2{margin:1.5rem 0 .4rem;font-size:1.1em}
p{margin:.5rem 0}
.lead{font-size:1.15em;margin-bottom:1rem}
.address{display:block;margin:.25rem 0 1rem;padding:.6rem .8rem;background:#f9fafb;border:1px solid var(--line);border-radius:8px;font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Consolas,monospace;font-size:.9em;overflow-wrap:anywhere;word-break:break-all;white-space:pre-wrap}
.why{background:var(--accent-soft);border-left:6px solid var(--accent);border-radius:6px;padding:.75rem 1rem;margin:1rem 0}
.why p{margin:.25rem 0}
.cats{font-weight:700}
dl.details{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.25rem;margin:1rem 0;padding:0}
dl.details dt{font-weight:700;color:var(--muted)}
dl.details dd{margin:0;overflow-wrap:anywhere}
.ref{font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Consolas,monospace;font-weight:700;font-size:.95em;overflow-wrap:anywhere}
.notice{background:var(--note-soft);border-left:6px solid var(--note);border-radius:6px;padding:.75rem 1rem;margin:1.25rem 0 .5rem}
.notice strong{color:var(--note)}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;align-items:center;margin:1.25rem 0 .5rem}
.actions form{margin:0}
.notice label{display:block;margin:.5rem 0 .25rem}.notice textarea{width:100%;box-sizing:border-box;font:inherit}
.btn{display:inline-flex;align-items:center;justify-content:center;min-height:48px;min-width:9rem;padding:.6rem 1.4rem;border-radius:10px;font:inherit;font-weight:700;text-decoration:none;cursor:pointer;border:3px solid var(--accent)}
.btn-primary{background:var(--accent);color:#fff}
.btn-secondary{background:#fff;color:var(--accent)}
.btn-note{border-color:var(--note);background:#fff;color:var(--note)}
.btn:focus-visible{outline:4px solid #2563eb;outline-offset:3px}
.small{font-size:.85em;color:var(--muted)}
@media (max-width:560px){main{margin:0;border-radius:0;padding:1.1rem 1rem 1.5rem}dl.details{grid-template-columns:1fr;gap:.1rem}dl.details dd{margin-bottom:.5rem}.btn{width:100%}.actions form{width:100%}}
@media print{body{background:#fff}main{box-shadow:none;margin:0}.actions{display:none}}
`
  .trim()
  .replace(/\n/g, '');

/** Renders a complete, self-contained HTML document. */
export function renderPage(shell: PageShell): string {
  const doc = html`<!doctype html>
    <html lang="en-GB">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <meta name="robots" content="noindex, nofollow" />
        <title>${shell.title}</title>
        <style>
          ${raw(STYLE + BRANDING_STYLE)}
        </style>
      </head>
      <body class="tone-${shell.tone}">
        <main>
          ${brandingHeader(shell.branding)}
          <p class="brand">${ICONS[shell.tone]}<span>${BRAND[shell.tone]}</span></p>
          <h1>${shell.heading}</h1>
          <p class="lead">${shell.lead}</p>
          ${shell.body} ${contactLine(shell.branding)}
        </main>
      </body>
    </html> `;
  return doc.html;
}
