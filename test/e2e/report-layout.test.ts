/**
 * Reports a headteacher can act on, checked where a person reads them: a heavy user's school year and a
 * weekly review, rendered by the CLI from a seeded database (helpers/heavy-year.ts), opened in headless
 * chromium laid out as printed on A4 (print media, the printable width), and printed to A4 PDF. Kept as
 * artefacts (path printed): a screenshot, the PDF and its pages as PNG (pdftoppm). Checked on the live DOM
 * and on the PDF's text: the cards add up, failed logins stand apart, Continue and self-report rows carry
 * the category they refer to, self-reports are checked against their block, the year opens with a one-page
 * summary (concerns first), charts stay legible, every page is numbered, and the weekly review fits the
 * page with staff and pupils marked apart.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chromiumPrintToPdf,
  chromiumScreenshot,
  findChromium,
  launchChromium,
  SKIP_MESSAGE,
  type DrivenBrowser,
} from '../helpers/chromium.js';
import { runCli } from '../helpers/cli.js';
import { buildHeavyYear, HEAVY, PUPIL, STAFF, type HeavyYear } from '../helpers/heavy-year.js';

const chromium = findChromium();
if (!chromium) console.warn(SKIP_MESSAGE);

function has(tool: string): boolean {
  try {
    execFileSync(tool, ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
/** poppler-utils (pdfinfo, pdftotext, pdftoppm): .ci/run installs it. */
const poppler = has('pdftoppm') && has('pdftotext') && has('pdfinfo');
if (!poppler)
  console.warn('poppler-utils not installed: PDF pages not checked (apt-get install poppler-utils)');

/** A4 less the report's @page side margins (11 mm each), in CSS pixels: where printed content must fit. */
const PRINT_WIDTH = Math.floor(((210 - 22) * 96) / 25.4);

interface Printed {
  html: string;
  pdf: string;
  /** pdftotext -layout, one entry per page. */
  pages: string[];
}

describe.skipIf(!chromium)('reports a headteacher can act on, in chromium', () => {
  let y: HeavyYear;
  let art: string;
  let browser: DrivenBrowser;
  let year: Printed;
  let weekly: Printed;

  async function render(name: string, args: string[]): Promise<Printed> {
    const html = path.join(art, `${name}.html`);
    const r = await runCli([...args, '--format', 'html', '--out', html, '--config', y.config]);
    expect(r.code, r.stderr).toBe(0);
    const url = pathToFileURL(html).href;
    const pdf = path.join(art, `${name}.pdf`);
    await chromiumScreenshot({ url, out: path.join(art, `${name}.png`), width: 1280, height: 2000 });
    await chromiumPrintToPdf({ url, out: pdf, timeoutMs: 60_000 });
    if (!poppler) return { html, pdf, pages: [] };
    execFileSync('pdftoppm', ['-r', '60', '-png', pdf, path.join(art, `${name}-page`)]);
    const text = execFileSync('pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' });
    return { html, pdf, pages: text.split('\f').filter((p) => p.trim().length > 0) };
  }

  /** The report laid out as printed: print media at the printable width of an A4 page. */
  async function printLayout(file: string): Promise<Page> {
    const page = await browser.browser.newPage();
    await page.setViewport({ width: PRINT_WIDTH, height: 1100 });
    await page.emulateMediaType('print');
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    return page;
  }

  const rowsOf = (page: Page, selector: string) =>
    page.$$eval(`${selector} table.data tbody tr`, (trs) =>
      trs.map((tr) => ({
        marked: tr.classList.contains('mark'),
        cells: [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim()),
      })),
    );

  beforeAll(async () => {
    y = await buildHeavyYear();
    art = mkdtempSync(path.join(tmpdir(), 'sg-report-layout-'));
    console.log(`report layout e2e: artefacts in ${art}`);
    const c = ['--config', y.config];
    const opened = await runCli(['case', 'open', 'Y-1', '--subject', HEAVY, '--by', 'A. Head', ...c]);
    expect(opened.code, opened.stderr).toBe(0);
    year = await render('year', [
      'report',
      'user',
      HEAVY,
      '--from',
      '2025-09-01',
      '--to',
      '2026-08-31',
      '--case',
      'Y-1',
      '--by',
      'A. Head',
      '--reason',
      'layout check of a year report',
    ]);
    weekly = await render('weekly', [
      'report',
      'weekly',
      '--since',
      y.week.from,
      '--to',
      y.week.to,
      '--by',
      'DSL',
      '--reason',
      'layout check of the weekly review',
    ]);
    browser = await launchChromium({ timeoutMs: 60_000 });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (y) rmSync(y.dir, { recursive: true, force: true });
  });

  it('keeps a screenshot, the A4 PDF and its pages as PNG for each report', () => {
    for (const name of ['year', 'weekly']) {
      expect(statSync(path.join(art, `${name}.png`)).size).toBeGreaterThan(20_000);
      expect(statSync(path.join(art, `${name}.pdf`)).size).toBeGreaterThan(10_000);
    }
    if (!poppler) return;
    const pngs = readdirSync(art).filter((f) => /^year-page-\d+\.png$/.test(f));
    expect(pngs.length).toBe(year.pages.length);
    const info = execFileSync('pdfinfo', [weekly.pdf], { encoding: 'utf8' });
    expect(info).toMatch(/Page size:\s+594\.\d+ x 841\.\d+ pts \(A4\)/); // portrait
  });

  it('headline cards add up to the total; flagged attempts and failed logins are shown apart', async () => {
    const page = await printLayout(year.html);
    const cards = await page.$$eval('#summary .figure', (els) =>
      els.map((e) => ({
        sum: e.getAttribute('data-sum'),
        label: (e.querySelector('.l')?.textContent ?? '').trim(),
        value: Number(e.querySelector('.v')?.textContent),
      })),
    );
    const total = cards.filter((x) => x.sum === 'total');
    const parts = cards.filter((x) => x.sum === 'part');
    expect(total).toHaveLength(1);
    expect(total[0]!.value).toBe(y.rows);
    expect(parts.map((x) => x.label)).toEqual(['Allowed', 'Warned', 'Continued', 'Blocked', 'Other']);
    expect(parts.reduce((s, x) => s + x.value, 0)).toBe(total[0]!.value);
    const other = parts.find((x) => x.label === 'Other')!;
    expect(other.value).toBe(y.selfReports.matched + y.selfReports.unmatched); // the only "other" rows
    const summary = await page.$eval('#summary', (e) => e.textContent ?? '');
    expect(summary).toContain(`Other: ${other.value} self-reports.`);
    const tried = cards.find((x) => x.label === 'Someone tried this account');
    expect(tried).toEqual({ sum: 'apart', label: 'Someone tried this account', value: y.failedLogins });
  });

  it('lists failed logins under the name apart, per address, never as the person’s requests', async () => {
    const page = await printLayout(year.html);
    const heading = await page.$eval('#failed-logins h2', (e) => e.textContent ?? '');
    expect(heading).toContain('Someone tried this account');
    const rows = await rowsOf(page, '#failed-logins');
    expect(rows.map((r) => r.cells.slice(0, 2))).toEqual([['10.9.9.9', String(y.failedLogins)]]);
    // Not one of the person's own rows is a failed login.
    const perAction = await page.$eval('#summary', (e) => e.textContent ?? '');
    expect(perAction).not.toMatch(/failed logins?[,.]/);
  });

  it('gives Continue and self-report rows the category of the page they name', async () => {
    const page = await printLayout(year.html);
    const continues = await rowsOf(page, '#appendix-continues');
    expect(continues).toHaveLength(y.continues);
    for (const r of continues) {
      expect(r.cells[1]).toMatch(/\/\.schoolgate\/continue$/);
      expect(r.cells[2]).toBe('Online games (games)');
    }
    const reports = await rowsOf(page, '#self-reports');
    const matched = reports.filter((r) => r.cells[5]!.startsWith('matches the block of'));
    expect(matched.length).toBe(y.selfReports.matched);
    for (const r of matched) expect(r.cells[2]).toMatch(/^[A-Z][^()]+ \([a-z]+\)$/); // e.g. Self-harm (selfharm)
  });

  it('checks each self-report against the block it names and marks the ones that match none', async () => {
    const page = await printLayout(year.html);
    const reports = await rowsOf(page, '#self-reports');
    expect(reports).toHaveLength(y.selfReports.matched + y.selfReports.unmatched);
    const invented = reports.filter((r) => r.cells[1]!.includes(y.inventedSite));
    expect(invented).toHaveLength(1);
    expect(invented[0]!.marked).toBe(true);
    expect(invented[0]!.cells[5]).toBe(
      `UNMATCHED: no block with this reference; ${y.inventedSite} was never blocked for this person`,
    );
    expect(reports.filter((r) => r.marked)).toHaveLength(y.selfReports.unmatched);
    const glance = await page.$eval('#summary', (e) => e.textContent ?? '');
    expect(glance).toContain(`${y.selfReports.unmatched} UNMATCHED`);
  });

  it('opens the year with a one-page summary, concerns first, then the trend; detail in the appendix', async () => {
    const page = await printLayout(year.html);
    const ids = await page.$$eval('section[id]', (els) => els.map((e) => e.id));
    expect(ids[0]).toBe('summary');
    expect(ids.indexOf('tamper')).toBeLessThan(ids.indexOf('appendix-searches'));
    // Every search is in the appendix; the body groups them by term.
    expect(await rowsOf(page, '#appendix-searches')).toHaveLength(y.searches);
    const terms = await rowsOf(page, '#searches');
    expect(terms.length).toBeLessThanOrEqual(6);
    expect(terms[0]!.cells[0]).toBe('how to hurt myself'); // the alerted term first
    expect(terms[0]!.marked).toBe(true);
    const concerns = await page.$$eval('#summary dl.facts dt', (els) => els.map((e) => e.textContent));
    expect(concerns.slice(0, 4)).toEqual([
      'Safeguarding alerts',
      'Flagged categories',
      'Matched search terms',
      'Self-reports',
    ]);
    const glance = await page.$eval('#summary', (e) => e.textContent ?? '');
    expect(glance).toContain('"how to hurt myself" (alert)');
    expect(glance).toContain('Self-harm (selfharm)');
    if (!poppler) return;
    // Printed: the summary ends on page 1 (its trend chart's axis title is there), and page 2 opens the detail.
    expect(year.pages[0]).toContain('At a glance');
    expect(year.pages[0]).toContain('Week starting (Monday)');
    const body1 = year.pages[0]!;
    expect(body1.indexOf('Safeguarding alerts')).toBeLessThan(body1.indexOf('Requests per week'));
    const page2 = year.pages[1]!.split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    expect(page2[0]).toMatch(/^Web activity report: heavy\.user/); // the running header
    expect(page2[1]).toBe('Safeguarding alerts');
  });

  it('keeps the year’s charts legible: weekly bins, labels that do not overlap, titled axes', async () => {
    const page = await printLayout(year.html);
    const trend = await page.$eval('#summary .chart', (chart) => {
      const svg = chart.querySelector('svg')!;
      return {
        title: chart.querySelector('.ct')?.textContent ?? '',
        bars: svg.querySelectorAll('rect[fill="#93c5fd"]').length,
        axes: [...svg.querySelectorAll('text.axis-title')].map((t) => t.textContent),
        labels: [...svg.querySelectorAll('text.xl')].map((t) => {
          const r = t.getBoundingClientRect();
          return { text: t.textContent, left: r.left, right: r.right };
        }),
      };
    });
    expect(trend.title).toContain('Requests per week');
    expect(trend.bars).toBeGreaterThan(35);
    expect(trend.bars).toBeLessThanOrEqual(53);
    expect(trend.axes).toEqual(['Week starting (Monday)', 'Requests']);
    expect(trend.labels.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < trend.labels.length; i++)
      expect(
        trend.labels[i]!.left,
        `${trend.labels[i - 1]!.text} / ${trend.labels[i]!.text}`,
      ).toBeGreaterThan(trend.labels[i - 1]!.right);
  });

  it('draws flagged categories on their own scale, not drowned by uncategorised requests', async () => {
    const page = await printLayout(year.html);
    const charts = await page.$$eval('#categories .chart', (els) =>
      els.map((chart) => {
        const svg = chart.querySelector('svg')!;
        const width = svg.viewBox.baseVal.width;
        const rows = new Map<string, number>();
        for (const r of svg.querySelectorAll('rect'))
          rows.set(
            r.getAttribute('y')!,
            (rows.get(r.getAttribute('y')!) ?? 0) + Number(r.getAttribute('width')),
          );
        return {
          title: chart.querySelector('.ct')?.textContent ?? '',
          labels: [...svg.querySelectorAll('text')].map((t) => t.textContent ?? ''),
          widest: Math.max(...rows.values()) / width,
        };
      }),
    );
    expect(charts[0]!.title).toContain('Flagged categories');
    expect(charts[0]!.labels).toContain('Self-harm (selfharm)');
    expect(charts[0]!.widest).toBeGreaterThan(0.25); // the biggest flagged bar spans the plot, not a sliver
    for (const c of charts) expect(c.labels).not.toContain('(uncategorised)');
  });

  it('numbers every printed page', () => {
    if (!poppler) return;
    expect(year.pages.length).toBeGreaterThan(3);
    year.pages.forEach((p, i) => expect(p).toContain(`Page ${i + 1} of ${year.pages.length}`));
    weekly.pages.forEach((p, i) => expect(p).toContain(`Page ${i + 1} of ${weekly.pages.length}`));
  });

  it('fits the weekly review on A4 portrait: categories as rows, the Self-harm row inside the page', async () => {
    const page = await printLayout(weekly.html);
    const rows = await rowsOf(page, '#weekly-categories');
    expect(rows.length).toBeGreaterThanOrEqual(12);
    const selfHarm = await page.$$eval('#weekly-categories tbody tr', (trs) =>
      trs
        .filter((tr) => tr.textContent?.includes('Self-harm'))
        .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.getBoundingClientRect().right)),
    );
    expect(selfHarm).toHaveLength(1);
    for (const right of selfHarm[0]!) expect(right).toBeLessThanOrEqual(PRINT_WIDTH);
    const tables = await page.$$eval('table.data', (ts) =>
      ts.map((t) => ({
        right: t.getBoundingClientRect().right,
        scroll: t.scrollWidth,
        client: t.clientWidth,
      })),
    );
    for (const t of tables) {
      expect(t.right).toBeLessThanOrEqual(PRINT_WIDTH);
      expect(t.scroll).toBeLessThanOrEqual(t.client + 1);
    }
    if (poppler) expect(weekly.pages.join('\n')).toContain('Self-harm');
  });

  it('marks staff and pupils apart in the reviews', async () => {
    const page = await printLayout(weekly.html);
    const people = await rowsOf(page, '#weekly-people');
    const profile = (user: string) => people.find((r) => r.cells[0] === user)?.cells[1];
    expect(profile(STAFF)).toBe('staff');
    expect(profile(PUPIL)).toBe('pupil');
    expect(profile(HEAVY)).toBe('pupil');
    const intro = await page.$eval('#weekly-categories', (e) => e.textContent ?? '');
    expect(intro).toContain('People by profile: pupil 2, staff 1.');
    const who = (await rowsOf(page, '#weekly-categories')).find((r) => r.cells[0]!.includes('Self-harm'));
    expect(who?.cells[3]).toContain(`${STAFF} (staff)`);
  });
});
