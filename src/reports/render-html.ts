/**
 * The HTML report: one self-contained file (inline CSS, inline SVG charts, no script, no external asset, a
 * CSP meta tag that forbids both), readable on screen and printed to A4. Printing: the whole report sits in
 * one table whose thead (the report's title, subject and case) and tfoot (the confidentiality line) repeat on
 * every printed page; sections marked pageBreak start a new page; table headers repeat across pages; rows
 * never split. Every value from the database goes through the escaping `html` template.
 */
import { html, raw, type SafeHtml } from '../proxy/pages/html.js';
import {
  isMarked,
  markedPieces,
  type BarChart,
  type Cell,
  type Chart,
  type Figure,
  type HBarChart,
  type ReportDoc,
  type Section,
  type Table,
} from './model.js';

const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const TONE: Record<string, string> = {
  allow: '#15803d',
  warn: '#b45309',
  continue: '#7c3aed',
  block: '#b91c1c',
  other: '#6b7280',
};

const STYLE = `
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#111827;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans","DejaVu Sans",sans-serif;font-size:14px;line-height:1.45}
table.page{width:100%;max-width:1100px;margin:1rem auto;background:#fff;border-collapse:collapse;box-shadow:0 1px 8px rgba(0,0,0,.1)}
table.page>thead>tr>td,table.page>tfoot>tr>td,table.page>tbody>tr>td{padding:0 1.5rem}
.runhead{display:flex;justify-content:space-between;gap:1rem;border-bottom:3px solid #1e3a8a;padding:.9rem 0 .5rem;color:#1e3a8a}
.runhead .t{font-weight:700;font-size:1.05em}
.runhead .s{color:#374151;font-size:.9em;text-align:right}
.runfoot{border-top:1px solid #d1d5db;padding:.4rem 0 .8rem;color:#4b5563;font-size:.8em}
h1{font-size:1.7em;margin:1rem 0 .25rem;color:#111827}
.subtitle{color:#374151;margin:0 0 .75rem}
h2{font-size:1.25em;margin:1.6rem 0 .5rem;padding-bottom:.2rem;border-bottom:2px solid #e5e7eb;color:#1e3a8a;break-after:avoid}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}
dl.facts dt{font-weight:700;color:#374151}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.figures{display:flex;flex-wrap:wrap;gap:.6rem;margin:.5rem 0 .75rem}
.figure{border:1px solid #d1d5db;border-left:6px solid #1e3a8a;border-radius:6px;padding:.35rem .8rem;min-width:8.5rem;break-inside:avoid}
.figure .v{font-size:1.6em;font-weight:700;line-height:1.15}
.figure .l{font-size:.85em;color:#374151}
.figures.sums .figure,.figures.apart .figure{flex:1 1 0;min-width:0}
.figures.sums .figure[data-sum=total]{border-width:2px 1px 1px 6px}
.figures.apart .figure{background:#f9fafb}
.figures.apart::before{content:"Shown apart:";flex:none;align-self:center;font-size:.8em;color:#4b5563}
table.data{width:100%;border-collapse:collapse;margin:.4rem 0 .8rem;font-size:.88em}
table.data th{background:#eef2ff;text-align:left;padding:.3rem .4rem;border-bottom:2px solid #c7d2fe;vertical-align:bottom}
table.data td{padding:.25rem .4rem;border-bottom:1px solid #e5e7eb;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}
table.data td.n,table.data th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.data tr.mark td{background:#fef2f2}
table.data tr.mark td:first-child{box-shadow:inset 4px 0 0 #b91c1c}
mark{background:#fde047;color:#111827;font-weight:700;padding:0 .1em;border-radius:2px}
@media print{mark{outline:1px solid #111827}}
.empty{color:#4b5563;font-style:italic}
.chart{margin:.5rem 0 1rem;break-inside:avoid}
.chart .ct{font-weight:700;font-size:.9em;margin-bottom:.2rem}
.chart svg{width:100%;height:auto;display:block}
.legend{display:flex;flex-wrap:wrap;gap:.9rem;font-size:.8em;color:#374151;margin:.2rem 0}
.legend i{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.3em;vertical-align:-.05em}
p{margin:.35rem 0}
.note{color:#374151;font-size:.9em}
section{margin-bottom:.5rem}
@page{size:A4;margin:12mm 11mm 14mm;@bottom-right{content:"Page " counter(page) " of " counter(pages);font-family:system-ui,"Liberation Sans","DejaVu Sans",sans-serif;font-size:8pt;color:#4b5563}}
@media print{
 body{background:#fff;font-size:10.5pt}
 table.page{max-width:none;margin:0;box-shadow:none}
 table.page>thead>tr>td,table.page>tfoot>tr>td,table.page>tbody>tr>td{padding:0}
 h1{margin:.4rem 0 .1rem}
 dl.facts.head{grid-template-columns:max-content 1fr max-content 1fr}
 .figures{gap:.4rem;margin:.3rem 0 .4rem}
 .figure{padding:.15rem .5rem}
 .figure .v{font-size:1.3em}
 .figure .l{font-size:.8em}
 section.break{break-before:page}
 table.data thead{display:table-header-group}
 table.data tr{break-inside:avoid}
 h2{break-after:avoid}
}
`
  .trim()
  .replace(/\n/g, '');

function card(f: Figure): SafeHtml {
  return html`<div
    class="figure"
    data-sum="${f.sums ?? 'apart'}"
    style="border-left-color:${TONE[f.tone ?? ''] ?? '#1e3a8a'}"
  >
    <div class="v">${f.value}</div>
    <div class="l">${f.label}</div>
  </div>`;
}

/** The cards that add up (total first), then those shown apart, each group on its own line. */
function figures(s: Section): SafeHtml | '' {
  if (!s.figures || s.figures.length === 0) return '';
  const summed = s.figures.filter((f) => f.sums !== undefined);
  const apart = s.figures.filter((f) => f.sums === undefined);
  if (summed.length === 0) return html`<div class="figures">${apart.map(card)}</div>`;
  return html`<div class="figures sums">${summed.map(card)}</div>
    ${apart.length > 0 ? html`<div class="figures apart">${apart.map(card)}</div>` : ''}`;
}

/** One cell: escaped text, a matched search term inside <mark>. */
function cell(c: Cell): SafeHtml | Cell {
  if (!isMarked(c)) return c;
  return html`${markedPieces(c).map((p) => (p.marked ? html`<mark>${p.text}</mark>` : html`${p.text}`))}`;
}

function table(t: Table): SafeHtml {
  if (t.rows.length === 0) return html`<p class="empty">${t.empty ?? 'None.'}</p>`;
  const numeric = new Set(t.numeric ?? []);
  const marked = new Set(t.marked ?? []);
  return html`<table class="data">
    <thead>
      <tr>
        ${t.columns.map((c, i) => html`<th class="${numeric.has(i) ? 'n' : ''}">${c}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${t.rows.map(
        (r, ri) =>
          html`<tr class="${marked.has(ri) ? 'mark' : ''}">
            ${r.map((c, i) => html`<td class="${numeric.has(i) ? 'n' : ''}">${cell(c)}</td>`)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

const num = (n: number): string => (Math.round(n * 10) / 10).toString();

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Approximate width of a label in the SVG's units (11px sans-serif: ~0.62 em a character, plus a gap). */
const labelWidth = (text: string): number => text.length * 6.8 + 10;

/** Every n-th label, n as small as lets the widest label fit its share of the axis without overlapping. */
export function labelStep(labels: readonly string[], plotW: number, atLeast = 1): number {
  const n = Math.max(1, labels.length);
  const widest = Math.max(0, ...labels.map(labelWidth));
  return Math.max(atLeast, Math.ceil((widest * n) / plotW));
}

function bars(c: BarChart): SafeHtml {
  const W = 760;
  const H = c.compact ? 150 : 220;
  const left = c.yTitle ? 60 : 44;
  const bottom = c.xTitle ? 44 : 30;
  const top = 8;
  const plotW = W - left - 8;
  const plotH = H - top - bottom;
  const max = niceMax(Math.max(0, ...c.values));
  const n = Math.max(1, c.values.length);
  const step = plotW / n;
  const bw = Math.max(1, step * 0.8);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const parts: string[] = [];
  for (const frac of [0, 0.5, 1]) {
    const yy = y(max * frac);
    parts.push(
      `<line x1="${left}" x2="${W - 8}" y1="${num(yy)}" y2="${num(yy)}" stroke="#e5e7eb" stroke-width="1"/>`,
      `<text x="${left - 4}" y="${num(yy + 4)}" font-size="11" text-anchor="end" fill="#374151">${num(max * frac)}</text>`,
    );
  }
  c.values.forEach((v, i) => {
    const x = left + i * step + (step - bw) / 2;
    if (v > 0)
      parts.push(
        `<rect x="${num(x)}" y="${num(y(v))}" width="${num(bw)}" height="${num(top + plotH - y(v))}" fill="#93c5fd"/>`,
      );
    const o = c.overlay?.[i] ?? 0;
    if (o > 0) {
      const h = Math.max(2, top + plotH - y(o));
      parts.push(
        `<rect x="${num(x)}" y="${num(top + plotH - h)}" width="${num(bw)}" height="${num(h)}" fill="#b91c1c"/>`,
      );
    }
  });
  const every = labelStep(c.labels, plotW, c.labelEvery ?? 1);
  // A label centred under its bar, but never past either end of the axis (nor, so moved, over the last one).
  let lastRight = -Infinity;
  const labels = c.labels
    .map((l, i) => {
      if (i % every !== 0) return '';
      const half = labelWidth(l) / 2;
      const x = Math.min(Math.max(left + i * step + step / 2, left + half), W - 8 - half);
      if (x - half < lastRight) return '';
      lastRight = x + half;
      return html`<text
        class="xl"
        x="${num(x)}"
        y="${top + plotH + 16}"
        font-size="11"
        text-anchor="middle"
        fill="#374151"
        >${l}</text
      >`.html;
    })
    .join('');
  const titles =
    (c.xTitle
      ? html`<text
          class="axis-title"
          x="${num(left + plotW / 2)}"
          y="${H - 6}"
          font-size="11"
          text-anchor="middle"
          fill="#111827"
          >${c.xTitle}</text
        >`.html
      : '') +
    (c.yTitle
      ? html`<text
          class="axis-title"
          transform="translate(14 ${num(top + plotH / 2)}) rotate(-90)"
          font-size="11"
          text-anchor="middle"
          fill="#111827"
          >${c.yTitle}</text
        >`.html
      : '');
  const total = c.values.reduce((s, v) => s + v, 0);
  const flagged = (c.overlay ?? []).reduce((s, v) => s + v, 0);
  return html`<div class="chart">
    <div class="ct">${c.title}</div>
    <svg
      viewBox="0 0 ${W} ${H}"
      role="img"
      aria-label="${c.title}: ${total} ${c.valueLabel}, ${flagged} ${c.overlayLabel ?? ''}"
    >
      ${raw(parts.join(''))}${raw(labels)}${raw(titles)}
      <line
        x1="${left}"
        x2="${W - 8}"
        y1="${top + plotH}"
        y2="${top + plotH}"
        stroke="#374151"
        stroke-width="1"
      />
    </svg>
    <div class="legend">
      <span><i style="background:#93c5fd"></i>${c.valueLabel}</span>
      ${c.overlay ? html`<span><i style="background:#b91c1c"></i>${c.overlayLabel ?? ''}</span>` : ''}
    </div>
  </div>`;
}

function hbars(c: HBarChart): SafeHtml {
  const W = 760;
  const rowH = 22;
  const labelW = 250;
  const H = c.labels.length * rowH + 6;
  const totals = c.values.map((v) => v.reduce((s, x) => s + x, 0));
  const max = niceMax(Math.max(0, ...totals));
  const plotW = W - labelW - 60;
  const rows = c.labels.map((label, i) => {
    let x = labelW;
    const yy = i * rowH + 3;
    const segs = (c.values[i] ?? []).map((v, si) => {
      const w = (v / max) * plotW;
      const seg = c.segments[si]!;
      const r =
        v > 0
          ? `<rect x="${num(x)}" y="${yy}" width="${num(Math.max(w, 1))}" height="${rowH - 6}" fill="${TONE[seg.tone]}"/>`
          : '';
      x += w;
      return r;
    });
    const shown = label.length > 38 ? `${label.slice(0, 37)}…` : label;
    return (
      html`<text x="${labelW - 6}" y="${yy + rowH - 10}" font-size="12" text-anchor="end" fill="#111827"
        >${shown}</text
      >`.html +
      segs.join('') +
      `<text x="${num(x + 4)}" y="${yy + rowH - 10}" font-size="11" fill="#374151">${totals[i] ?? 0}</text>`
    );
  });
  return html`<div class="chart">
    <div class="ct">${c.title}</div>
    <div class="legend">
      ${c.segments.map((s) => html`<span><i style="background:${TONE[s.tone]}"></i>${s.name}</span>`)}
    </div>
    <svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${c.title}">${raw(rows.join(''))}</svg>
  </div>`;
}

function chart(c: Chart): SafeHtml {
  return c.kind === 'bars' ? bars(c) : hbars(c);
}

function section(s: Section): SafeHtml {
  return html`<section class="${s.pageBreak ? 'break' : ''}" ${s.id ? html`id="${s.id}"` : ''}>
    <h2>${s.heading}</h2>
    ${figures(s)} ${(s.paragraphs ?? []).map((p) => html`<p class="note">${p}</p>`)}
    ${
      s.facts && s.facts.length > 0
        ? html`<dl class="facts">
            ${s.facts.map(
              ([k, v]) =>
                html`<dt>${k}</dt>
                  <dd>${v}</dd>`,
            )}
          </dl>`
        : ''
    }
    ${(s.charts ?? []).map(chart)} ${s.table ? table(s.table) : ''}
  </section>`;
}

export function renderHtml(doc: ReportDoc): string {
  return html`<!doctype html>
    <html lang="en-GB">
      <head>
        <meta charset="utf-8" />
        <meta http-equiv="Content-Security-Policy" content="${CSP}" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <meta name="robots" content="noindex, nofollow" />
        <title>${doc.title}</title>
        <style>
          ${raw(STYLE)}
        </style>
      </head>
      <body>
        <table class="page">
          <thead>
            <tr>
              <td>
                <div class="runhead">
                  <span class="t">${doc.title}</span><span class="s">${doc.subtitle}</span>
                </div>
              </td>
            </tr>
          </thead>
          <tfoot>
            <tr>
              <td><div class="runfoot">${doc.footer}</div></td>
            </tr>
          </tfoot>
          <tbody>
            <tr>
              <td>
                <h1>${doc.title}</h1>
                <p class="subtitle">${doc.subtitle}</p>
                <dl class="facts head">
                  ${doc.header.map(
                    ([k, v]) =>
                      html`<dt>${k}</dt>
                        <dd>${v}</dd>`,
                  )}
                </dl>
                ${doc.sections.map(section)}
              </td>
            </tr>
          </tbody>
        </table>
      </body>
    </html>`.html;
}
