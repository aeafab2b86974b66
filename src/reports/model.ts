/**
 * A report as a document: a header (who, what, when, under which case), then sections of tables, charts and
 * paragraphs. Every renderer (text, HTML) works from this; JSON is the report's data; CSV is its row list.
 * Everything in a ReportDoc is plain text: renderers escape it.
 */
export type Cell = string | number | null;

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

export interface Section {
  heading: string;
  /** Start this section on a new printed page. */
  pageBreak?: boolean;
  paragraphs?: string[];
  /** Key figures shown as big numbers. */
  figures?: {
    label: string;
    value: number | string;
    tone?: 'allow' | 'warn' | 'continue' | 'block' | 'other';
  }[];
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
