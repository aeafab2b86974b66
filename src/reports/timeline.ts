/**
 * Requests over time, legible for any range: one bar a day up to LONG_RANGE_DAYS, one a week (starting
 * Monday) beyond, so a school year is ~45 bars instead of ~300 whose labels overlap. Labels are short
 * ('2 Nov'), axes are titled, and the renderer prints only as many labels as fit.
 */
import { Aggregate } from './aggregate.js';
import type { BarChart, Section } from './model.js';
import type { ReportSource } from './source.js';
import { startOfDay } from './time.js';

/** Longer than this (about two months), the chart and its table go by week. */
export const LONG_RANGE_DAYS = 62;

const DAY_MS = 86_400_000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export interface Bin {
  /** The bin's first local day, 'YYYY-MM-DD'. */
  key: string;
  label: string;
  requests: number;
  flagged: number;
}

/** '2026-11-02' → '2 Nov'. */
export function shortDay(key: string): string {
  const [, m, d] = key.split('-').map(Number);
  return `${d} ${MONTHS[(m ?? 1) - 1]}`;
}

/** The Monday on or before a local day, as a day key (calendar arithmetic: no time zone involved). */
export function weekOf(key: string): string {
  const [y, m, d] = key.split('-').map(Number);
  const t = Date.UTC(y!, m! - 1, d!);
  const dow = (new Date(t).getUTCDay() + 6) % 7; // Monday 0
  return new Date(t - dow * DAY_MS).toISOString().slice(0, 10);
}

/** Every local day of [fromMs, toMs), with its counts (zero where nothing happened). */
export function dayBins(src: ReportSource, a: Aggregate, fromMs: number, toMs: number): Bin[] {
  const out: Bin[] = [];
  // Local days by their noons (never within an hour of a day's edge, so 24 h steps land on consecutive
  // local days across DST changes); LocalClock caches the zone lookups.
  let last = '';
  const first = startOfDay(fromMs, src.timeZone) + 12 * 3_600_000;
  for (let noon = first; noon < toMs + 12 * 3_600_000 && out.length < 800; noon += DAY_MS) {
    const key = src.clock.of(noon).day;
    if (key === last) continue;
    last = key;
    const v = a.days.get(key);
    out.push({ key, label: shortDay(key), requests: v?.requests ?? 0, flagged: v?.flagged ?? 0 });
  }
  return out;
}

/** Days folded into weeks starting Monday. */
export function weekBins(days: readonly Bin[]): Bin[] {
  const out: Bin[] = [];
  for (const d of days) {
    const key = weekOf(d.key);
    const bin = out[out.length - 1];
    if (bin && bin.key === key) {
      bin.requests += d.requests;
      bin.flagged += d.flagged;
    } else out.push({ key, label: shortDay(key), requests: d.requests, flagged: d.flagged });
  }
  return out;
}

/** Day bins for short ranges, week bins for long ones. */
export function timeBins(src: ReportSource, a: Aggregate, fromMs: number, toMs: number) {
  const days = dayBins(src, a, fromMs, toMs);
  const weekly = days.length > LONG_RANGE_DAYS;
  return { weekly, days, bins: weekly ? weekBins(days) : days };
}

export function requestsChart(bins: readonly Bin[], weekly: boolean): BarChart {
  return {
    kind: 'bars',
    title: `Requests per ${weekly ? 'week' : 'day'} (flagged attempts in red)`,
    labels: bins.map((b) => b.label),
    values: bins.map((b) => b.requests),
    overlay: bins.map((b) => b.flagged),
    overlayLabel: 'flagged',
    valueLabel: 'requests',
    xTitle: weekly ? 'Week starting (Monday)' : 'Day',
    yTitle: 'Requests',
  };
}

export function timelineSection(src: ReportSource, a: Aggregate, fromMs: number, toMs: number): Section {
  const { weekly, bins } = timeBins(src, a, fromMs, toMs);
  const busiest = [...bins]
    .filter((b) => b.requests > 0)
    .sort((x, y) => y.requests - x.requests)
    .slice(0, 5);
  const unit = weekly ? 'week' : 'day';
  return {
    heading: 'Timeline',
    id: 'timeline',
    pageBreak: true,
    charts: [
      requestsChart(bins, weekly),
      {
        kind: 'bars',
        title: `Requests by hour of day (${src.timeZone}; flagged attempts in red)`,
        labels: a.hours.map((_, h) => String(h).padStart(2, '0')),
        values: a.hours.map((h) => h.requests),
        overlay: a.hours.map((h) => h.flagged),
        overlayLabel: 'flagged',
        valueLabel: 'requests',
        labelEvery: 2,
        xTitle: 'Hour of day',
        yTitle: 'Requests',
      },
    ],
    paragraphs:
      busiest.length > 0
        ? [
            `Busiest ${unit}s: ${busiest.map((b) => `${weekly ? 'week of ' : ''}${b.key} (${b.requests})`).join(', ')}.` +
              (weekly ? ' Requests per day are listed in the appendix.' : ''),
          ]
        : [],
    table: {
      columns: [weekly ? 'Week starting' : 'Day', 'Requests', 'Flagged attempts'],
      rows: bins.filter((b) => b.requests > 0).map((b) => [b.key, b.requests, b.flagged]),
      marked: bins.filter((b) => b.requests > 0).flatMap((b, i) => (b.flagged > 0 ? [i] : [])),
      numeric: [1, 2],
      empty: 'No activity.',
    },
  };
}

/** Every day with activity: the appendix of a long report (the body goes by week). */
export function perDayAppendix(a: Aggregate, heading: string): Section {
  const days = [...a.days.entries()].sort((x, y) => x[0].localeCompare(y[0]));
  return {
    heading,
    id: 'appendix-days',
    pageBreak: true,
    table: {
      columns: ['Day', 'Requests', 'Flagged attempts'],
      rows: days.map(([day, v]) => [day, v.requests, v.flagged]),
      marked: days.flatMap(([, v], i) => (v.flagged > 0 ? [i] : [])),
      numeric: [1, 2],
      empty: 'No activity.',
    },
  };
}
