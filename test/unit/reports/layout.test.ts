import { describe, expect, it } from 'vitest';
import { bucketOf, zeroCounts, type Aggregate, type RowSummary } from '../../../src/reports/aggregate.js';
import { labelStep } from '../../../src/reports/render-html.js';
import {
  APPENDIX_ROWS,
  countFigures,
  otherBreakdown,
  searchAppendix,
} from '../../../src/reports/sections.js';
import type { ReportSource } from '../../../src/reports/source.js';
import { shortDay, weekBins, weekOf, type Bin } from '../../../src/reports/timeline.js';

describe('weeks for a long range', () => {
  it.each([
    ['2026-03-02', '2026-03-02'], // a Monday
    ['2026-03-08', '2026-03-02'], // the Sunday after it
    ['2026-03-01', '2026-02-23'],
    ['2026-01-01', '2025-12-29'], // across the year
    ['2026-10-25', '2026-10-19'], // the day the clocks go back
  ])('the week of %s starts %s', (day, monday) => expect(weekOf(day)).toBe(monday));

  it('labels days shortly', () => {
    expect(shortDay('2026-11-02')).toBe('2 Nov');
    expect(shortDay('2025-09-01')).toBe('1 Sep');
  });

  it('folds days into weeks, keeping every request and flagged attempt', () => {
    const days: Bin[] = ['2026-03-05', '2026-03-06', '2026-03-09', '2026-03-15', '2026-03-16'].map(
      (key, i) => ({ key, label: shortDay(key), requests: i + 1, flagged: i % 2 }),
    );
    expect(weekBins(days)).toEqual([
      { key: '2026-03-02', label: '2 Mar', requests: 3, flagged: 1 },
      { key: '2026-03-09', label: '9 Mar', requests: 7, flagged: 1 },
      { key: '2026-03-16', label: '16 Mar', requests: 5, flagged: 0 },
    ]);
  });
});

describe('chart labels', () => {
  it.each([
    [Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0')), 2, 2],
    [Array.from({ length: 5 }, () => '12 Nov'), 1, 1],
    [Array.from({ length: 46 }, () => '12 Nov'), 1, 4],
    [Array.from({ length: 300 }, () => '2026-11-02'), 1, 34],
  ])('%# prints every n-th so none overlap', (labels, atLeast, step) => {
    const plotW = 692;
    const n = labelStep(labels, plotW, atLeast);
    expect(n).toBe(step);
    // Each printed label's share of the axis is at least as wide as the label.
    expect((plotW / labels.length) * n).toBeGreaterThanOrEqual(labels[0]!.length * 6.8 + 10);
  });
});

describe('headline cards', () => {
  it('the parts add up to the total, whatever the actions', () => {
    const total = zeroCounts();
    for (const action of [
      'allow',
      'warn',
      'continue',
      'continued',
      'block',
      'self-report',
      'reject',
      'error',
    ]) {
      total.requests++;
      total[bucketOf(action)]++;
    }
    const cards = countFigures(total);
    const sum = cards.filter((c) => c.sums === 'part').reduce((s, c) => s + Number(c.value), 0);
    expect(cards.find((c) => c.sums === 'total')?.value).toBe(8);
    expect(sum).toBe(8);
  });

  it('says what Other counts', () => {
    const byAction = new Map([
      ['allow', 5],
      ['self-report', 2],
      ['reject', 1],
      ['auth-failed', 1],
    ]);
    expect(otherBreakdown(byAction, (a) => bucketOf(a) === 'other')).toBe(
      'Other: 2 self-reports, 1 failed login, 1 malformed request.',
    );
    expect(otherBreakdown(new Map([['allow', 1]]), (a) => bucketOf(a) === 'other')).toBe('Other: none.');
  });
});

describe('every-row appendices', () => {
  const src = { timeZone: 'Europe/London' } as ReportSource;
  const search = (i: number) =>
    ({
      id: String(i),
      timeMs: i * 60_000,
      searchTerm: `term ${i}`,
      searchEngine: 'google',
      action: 'allow',
    }) as RowSummary;

  it.each([
    [3, 3, false],
    [APPENDIX_ROWS, APPENDIX_ROWS, false],
    [APPENDIX_ROWS + 1, APPENDIX_ROWS, true],
  ])('%i searches: %i printed, the rest pointed to the CSV: %s', (n, printed, pointer) => {
    const a = { searches: Array.from({ length: n }, (_, i) => search(i)) } as unknown as Aggregate;
    const section = searchAppendix(src, a, 'Appendix A');
    expect(section.table?.rows).toHaveLength(printed);
    expect(section.paragraphs?.some((p) => p.includes('the CSV export'))).toBe(pointer);
  });
});
