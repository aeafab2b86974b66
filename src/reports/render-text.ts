/** Plain-text rendering of a ReportDoc (terminal, e-mail). Control characters from the database are made visible. */
import { isMarked, markedPieces, type Cell, type ReportDoc, type Table } from './model.js';

// eslint-disable-next-line no-control-regex -- making control characters visible is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/** Around a highlighted part (a matched search term) in text output. */
export const MARK_OPEN = '\u00bb';
export const MARK_CLOSE = '\u00ab';

export function plain(value: Cell): string {
  if (value === null) return '';
  if (isMarked(value))
    return markedPieces(value)
      .map((p) => (p.marked ? `${MARK_OPEN}${plain(p.text)}${MARK_CLOSE}` : plain(p.text)))
      .join('');
  return String(value).replace(CONTROL, (ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x20 ? String.fromCharCode(0x2400 + code) : code === 0x7f ? '\u2421' : '\ufffd';
  });
}

const MAX_CELL = 80;

function clip(text: string): string {
  return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text;
}

export function renderTable(t: Table): string[] {
  if (t.rows.length === 0) return [`  ${t.empty ?? 'None.'}`];
  const numeric = new Set(t.numeric ?? []);
  const marked = new Set(t.marked ?? []);
  const cells = t.rows.map((r) => r.map((c) => clip(plain(c))));
  const widths = t.columns.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[], mark: boolean) =>
    `${mark ? '* ' : '  '}${r
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()}`;
  return [
    line(t.columns, false),
    line(
      widths.map((w) => '-'.repeat(w)),
      false,
    ),
    ...cells.map((r, i) => line(r, marked.has(i))),
  ];
}

export function renderText(doc: ReportDoc): string {
  const title = plain(doc.title);
  const out: string[] = [title, '='.repeat(Math.min(title.length, 100))];
  const labelWidth = Math.max(0, ...doc.header.map(([k]) => plain(k).length));
  for (const [k, v] of doc.header) out.push(`${plain(k).padEnd(labelWidth)}  ${plain(v)}`);
  for (const s of doc.sections) {
    const heading = plain(s.heading);
    out.push('', heading, '-'.repeat(Math.min(heading.length, 100)));
    if (s.figures) {
      const line = (fs: typeof s.figures) =>
        fs.map((f) => `${plain(f.label)}: ${plain(f.value)}`).join('   ');
      const summed = s.figures.filter((f) => f.sums !== undefined);
      const apart = s.figures.filter((f) => f.sums === undefined);
      if (summed.length > 0) out.push(line(summed));
      if (apart.length > 0) out.push(summed.length > 0 ? `Shown apart: ${line(apart)}` : line(apart));
    }
    for (const p of s.paragraphs ?? []) out.push(plain(p));
    for (const [k, v] of s.facts ?? []) out.push(`${plain(k)}: ${plain(v)}`);
    if (s.table) out.push(...renderTable({ ...s.table, columns: s.table.columns.map((c) => plain(c)) }));
  }
  out.push('', plain(doc.footer), '');
  return out.join('\n');
}
