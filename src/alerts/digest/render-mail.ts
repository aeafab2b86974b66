/**
 * The digest's small HTML part: a ReportDoc as mail clients show it — table attributes and inline styles
 * only (Outlook drops <style> and flexbox), no links, no images, no remote content, every value escaped by
 * the `html` template (which also shows control and direction-override characters, as the text part does).
 * The plain-text part is src/reports/render-text.ts, as for any report.
 */
import { html, type SafeHtml } from '../../proxy/pages/html.js';
import type { Cell, ReportDoc, Section, Table } from '../../reports/model.js';

const TONE: Record<string, string> = { block: '#b00020', warn: '#b35c00', continue: '#6b21a8' };

/** Layout by HTML attributes, not a style per cell: a 200-row table stays a few tens of kilobytes. */
function table(t: Table): SafeHtml {
  if (t.rows.length === 0) return html`<p style="color:#555;font-style:italic">${t.empty ?? 'None.'}</p>`;
  const numeric = new Set(t.numeric ?? []);
  const marked = new Set(t.marked ?? []);
  const th = (c: string, i: number) => html`<th align="${numeric.has(i) ? 'right' : 'left'}">${c}</th>`;
  const td = (c: Cell, i: number) =>
    numeric.has(i) ? html`<td align="right">${c}</td>` : html`<td>${c}</td>`;
  return html`<table
    cellpadding="3"
    cellspacing="0"
    border="1"
    style="border-collapse:collapse;border-color:#ddd;font-size:13px;margin:4px 0 12px"
  >
    <tr bgcolor="#eef2ff">
      ${t.columns.map(th)}
    </tr>
    ${t.rows.map(
      (r, ri) =>
        html`<tr valign="top" bgcolor="${marked.has(ri) ? '#fef2f2' : '#ffffff'}">
          ${r.map(td)}
        </tr>`,
    )}
  </table>`;
}

function section(s: Section): SafeHtml {
  return html`<h2 style="font-size:16px;color:#1e3a8a;margin:18px 0 6px">${s.heading}</h2>
    ${
      s.figures
        ? html`<p>
            ${s.figures.map(
              (f) =>
                html`<span style="margin-right:16px;color:${TONE[f.tone ?? ''] ?? '#111'}"
                  ><b>${f.value}</b> ${f.label}</span
                >`,
            )}
          </p>`
        : ''
    }
    ${(s.paragraphs ?? []).map((p) => html`<p>${p}</p>`)}
    ${(s.facts ?? []).map(([k, v]) => html`<p><b>${k}:</b> ${v}</p>`)} ${s.table ? table(s.table) : ''}`;
}

export function renderMailHtml(doc: ReportDoc): string {
  const body = html`<!doctype html>
    <html>
      <head>
        <meta charset="utf-8" />
      </head>
      <body style="font-family:sans-serif;font-size:14px;color:#111">
        <h1 style="font-size:20px;margin:0 0 4px">${doc.title}</h1>
        <p style="color:#374151;margin:0 0 8px">${doc.subtitle}</p>
        ${doc.header.map(([k, v]) => html`<p style="margin:2px 0"><b>${k}:</b> ${v}</p>`)}
        ${doc.sections.map(section)}
        <p style="color:#555;font-size:12px;margin-top:18px">${doc.footer}</p>
      </body>
    </html>`;
  return `${body.html}\n`;
}
