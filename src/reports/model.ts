/**
 * A report as a document: a header (who, what, when, under which case), then sections of tables, charts and
 * paragraphs. Every renderer (text, HTML) works from this; JSON is the report's data; CSV is its row list.
 * Everything in a ReportDoc is plain text (a MarkedText is plain text plus offsets): renderers escape it.
 */
export type Cell = string | number | null | MarkedText;

/**
 * Text with parts to highlight (a matched search term): `marks` are [start, end) offsets into `text`,
 * sorted and not overlapping. Text renders them as »…«, HTML as <mark>, CSV as the bare text.
 */
export interface MarkedText {
  text: string;
  marks: readonly (readonly [number, number])[];
}

export function isMarked(c: unknown): c is MarkedText {
  return typeof c === 'object' && c !== null && 'marks' in c && 'text' in c;
}

/** The pieces of a marked text in order, each with whether it is highlighted. */
export function markedPieces(c: MarkedText): { text: string; marked: boolean }[] {
  const out: { text: string; marked: boolean }[] = [];
  let at = 0;
  for (const [start, end] of c.marks) {
    if (start < at || end <= start || end > c.text.length) continue; // not a valid span: leave it plain
    if (start > at) out.push({ text: c.text.slice(at, start), marked: false });
    out.push({ text: c.text.slice(start, end), marked: true });
    at = end;
  }
  if (at < c.text.length) out.push({ text: c.text.slice(at), marked: false });
  return out;
}

export interface Table {
  columns: string[];
  rows: Cell[][];
  /** Column indexes that hold numbers (right-aligned). */
  numeric?: number[];
  /** Row indexes to emphasise (flagged). */
  marked?: number[];
  /** Shown when there are no rows. */
  empty?: string;
}

export interface BarChart {
  kind: 'bars';
  title: string;
  labels: string[];
  values: number[];
  /** A second series drawn over the first (e.g. flagged attempts), same length as values. */
  overlay?: number[];
  overlayLabel?: string;
  valueLabel: string;
  /** Print every n-th label (long series). */
  labelEvery?: number;
  /** Axis titles, e.g. 'Week starting' and 'Requests'. */
  xTitle?: string;
  yTitle?: string;
  /** Drawn lower (a summary page's trend). */
  compact?: boolean;
}

export interface HBarChart {
  kind: 'hbars';
  title: string;
  labels: string[];
  /** Stacked segments per label, in `segments` order. */
  values: number[][];
  segments: { name: string; tone: 'allow' | 'warn' | 'continue' | 'block' | 'other' }[];
}

export type Chart = BarChart | HBarChart;

/**
 * A headline card. `sums`: 'total' is the one figure the 'part' cards add up to (renderers check nothing, the
 * builder makes them add up); a card without `sums` is shown apart, as not part of that total.
 */
export interface Figure {
  label: string;
  value: number | string;
  tone?: 'allow' | 'warn' | 'continue' | 'block' | 'other';
  sums?: 'total' | 'part';
}

export interface Section {
  heading: string;
  /** A stable anchor (HTML id), e.g. 'summary' or 'appendix-searches'. */
  id?: string;
  /** Start this section on a new printed page. */
  pageBreak?: boolean;
  paragraphs?: string[];
  /** Key figures shown as big numbers. */
  figures?: Figure[];
  charts?: Chart[];
  table?: Table;
  /** Label/value pairs. */
  facts?: [string, string][];
}

export interface ReportDoc {
  title: string;
  /** One line under the title, e.g. whose records and the period. */
  subtitle: string;
  header: [string, string][];
  sections: Section[];
  /** The footer line on every printed page. */
  footer: string;
}
