/** An unblock request's cells (number, sent, who, site, their reason): the technician's and the DSL's lists. */
import { html, type SafeHtml } from '../../proxy/pages/html.js';
import type { UnblockRequest } from '../../state/unblock-requests.js';

export function requestCells(r: UnblockRequest): SafeHtml {
  return html`<td>${String(r.id)}</td>
    <td>${r.createdAt}</td>
    <td>${r.user ?? `(not signed in, ${r.clientIp})`} (${r.profile})</td>
    <td>${r.site}</td>
    <td>${r.reason}</td>`;
}
