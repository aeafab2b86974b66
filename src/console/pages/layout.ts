/**
 * The console's page shell: server-rendered, no script, no external asset (inline CSS only), readable at
 * 200 % zoom and on a tablet (one column, relative sizes), printable (navigation hidden). Every value goes
 * through the escaping `html` template of the proxy's own pages.
 */
import { html, raw, type SafeHtml } from '../../proxy/pages/html.js';
import type { Role } from '../accounts.js';

/** No script at all; styles inline; forms post only to the console; never framed. */
export const CONSOLE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLE = `
  body { font: 1rem/1.5 system-ui, sans-serif; margin: 0; color: #111; background: #fff; }
  header { background: #1e3a5f; color: #fff; padding: .5rem 1rem; display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; }
  header a { color: #fff; }
  nav a { margin-right: 1rem; }
  main { padding: 1rem; max-width: 70rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { border-bottom: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
  form.inline { display: inline; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; }
  label { display: block; margin-top: .5rem; }
  input, select, textarea, button { font: inherit; }
  input[type=text], input[type=password], input[type=date], textarea, select { width: 100%; max-width: 30rem; box-sizing: border-box; }
  button { padding: .3rem .8rem; margin-top: .5rem; }
  progress { width: 100%; max-width: 30rem; height: 1.5rem; }
  .error { color: #b91c1c; font-weight: bold; }
  .note { color: #374151; }
  .sev-danger, .sev-high { color: #b91c1c; font-weight: bold; }
  a:focus, button:focus, input:focus { outline: 3px solid #f59e0b; }
  @media print { header, form, nav { display: none; } main { max-width: none; } }
`;

export interface Viewer {
  name: string;
  role: Role;
  csrf: string;
}

const NAV: Record<Role, [string, string][]> = {
  dsl: [
    ['/alerts', 'Alerts inbox'],
    ['/reviews', 'Reviews'],
    ['/self-reports', 'Self-reports'],
    ['/dsl/requests', 'Unblock requests'],
  ],
  headteacher: [
    ['/cases', 'Cases'],
    ['/reviews', 'Reviews'],
    ['/self-reports', 'Self-reports'],
    ['/holds', 'Legal holds'],
    ['/around', 'Context report'],
  ],
  technician: [
    ['/status', 'Status'],
    ['/lists', 'Lists'],
    ['/imports', 'Imports'],
    ['/explain', 'Explain'],
    ['/exceptions', 'Exceptions'],
    ['/requests', 'Unblock requests'],
    ['/users', 'Users'],
    ['/networks', 'Networks'],
    ['/changes', 'Admin changes'],
    ['/selftest', 'Self-test'],
  ],
  auditor: [['/access-log', 'Report-access log']],
};

/** `refreshSeconds`: the page reloads itself (an import's progress; there is no script to poll). */
export function page(title: string, body: SafeHtml, viewer: Viewer | null, refreshSeconds?: number): string {
  return html`<!doctype html>
    <html lang="en-GB">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        ${refreshSeconds ? html`<meta http-equiv="refresh" content="${String(refreshSeconds)}" />` : ''}
        <title>${title} · schoolgate console</title>
        <style>
          ${raw(STYLE)}
        </style>
      </head>
      <body>
        <header>
          <strong>schoolgate console</strong>
          ${
            viewer
              ? html`<nav aria-label="main">
                    ${NAV[viewer.role].map(([href, label]) => html`<a href="${href}">${label}</a>`)}
                  </nav>
                  <span>${viewer.name} (${viewer.role})</span>
                  <form class="inline" method="post" action="/sign-out">
                    <input type="hidden" name="_csrf" value="${viewer.csrf}" /><button type="submit">
                      Sign out
                    </button>
                  </form>`
              : ''
          }
        </header>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`.html;
}

/** The hidden CSRF field every form carries. */
export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${token}" />`;
}

export function message(text: string): SafeHtml {
  return html`<p class="error" role="alert">${text}</p>`;
}
