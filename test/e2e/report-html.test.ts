/**
 * The HTML investigation report in a real browser: rendered by the CLI from a fixture database, opened in
 * headless chromium from a file, screenshotted (PNG path printed), printed to PDF (A4; header and footer
 * repeated on every page when pdftotext is there to check) and its live DOM checked.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import {
  chromiumDumpDom,
  chromiumPrintToPdf,
  chromiumScreenshot,
  findChromium,
  SKIP_MESSAGE,
} from '../helpers/chromium.js';
import { buildFixture, type Fixture } from '../integration/reports/fixture.js';

const chromium = findChromium();
if (!chromium) console.warn(SKIP_MESSAGE);

function hasPdftotext(): boolean {
  try {
    execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!chromium)('HTML investigation report in chromium', () => {
  let f: Fixture;
  let file: string;
  let url: string;

  beforeAll(async () => {
    f = await buildFixture();
    const c = ['--config', f.config];
    expect((await runCli(['case', 'open', 'C-7', '--subject', 'pupil1', '--by', 'A. Head', ...c])).code).toBe(
      0,
    );
    file = path.join(f.dir, 'pupil1.html');
    const r = await runCli([
      'report',
      'user',
      'pupil1',
      '--from',
      '2026-11-02',
      '--to',
      '2026-11-06',
      '--case',
      'C-7',
      '--by',
      'A. Head',
      '--reason',
      'pastoral concern',
      '--format',
      'html',
      '--out',
      file,
      ...c,
    ]);
    expect(r.code, r.stderr).toBe(0);
    url = pathToFileURL(file).href;
  });

  afterAll(() => rmSync(f.dir, { recursive: true, force: true }));

  it('shows every section, with the hostile search term as text and no script', async () => {
    const dom = await chromiumDumpDom({ url });
    for (const text of [
      'Web activity report: pupil1',
      'Whose records',
      'Case',
      'C-7',
      'Flagged domains',
      'bet.test',
      'Search terms',
      'how to gamble',
      'Self-reports',
      'I clicked an advert by mistake',
      'Warnings continued',
      'Timeline',
      'Requests per day',
      'Tamper evidence',
      'verified: 14 rows match the hash chain',
    ])
      expect(dom).toContain(text);
    expect(dom).toContain('=HYPERLINK("http://evil.test/","click")'); // a text node, not markup
    expect(dom).not.toMatch(/<script/i);
    expect(dom.match(/<svg/g)?.length).toBeGreaterThanOrEqual(3);
  });

  it('takes a screenshot', async () => {
    const png = path.join(f.dir, 'report.png');
    await chromiumScreenshot({ url, out: png, width: 1280, height: 2400 });
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect(bytes.length).toBeGreaterThan(20_000);
    console.log(`report screenshot: ${png}`);
  });

  it('prints to A4 PDF with the header and footer on every page', async () => {
    const pdf = path.join(f.dir, 'report.pdf');
    await chromiumPrintToPdf({ url, out: pdf });
    expect(existsSync(pdf)).toBe(true);
    expect(readFileSync(pdf).subarray(0, 4).toString()).toBe('%PDF');
    if (!hasPdftotext()) return console.warn('pdftotext not installed: page text not checked');
    const info = execFileSync('pdfinfo', [pdf], { encoding: 'utf8' });
    expect(info).toMatch(/Page size:\s+594\.\d+ x 841\.\d+ pts \(A4\)/);
    const pages = Number(/Pages:\s+(\d+)/.exec(info)?.[1]);
    expect(pages).toBeGreaterThanOrEqual(2);
    const text = execFileSync('pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' }).split('\f');
    for (const page of text.filter((p) => p.trim().length > 0)) {
      expect(page).toContain('Web activity report: pupil1');
      expect(page).toContain('Monitoring information: confidential');
    }
  });
});
