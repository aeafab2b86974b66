/**
 * The console is usable without a mouse, at 200 % zoom, on a tablet, and on paper (issue 16 item 5), in
 * headless Debian chromium trusting the school CA through NSS: a DSL signs in with the keyboard alone (Tab
 * order name → password → code → button, Enter submits); each role's first page has no sideways scrolling at
 * a 1280-pixel window zoomed to 200 % (a 640 CSS-pixel viewport at device scale 2) and on a portrait tablet
 * (768 px), on every page of each role; printed, the navigation and forms are not drawn and the content fits A4's printable width. The PDF
 * and screenshots are kept under a temp dir (path printed).
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCase } from '../../src/audit/cases.js';
import { totpCode } from '../../src/console/totp.js';
import { UserStore } from '../../src/identity/user-store.js';
import { openAdmin } from '../../src/reports/run.js';
import { findChromium, launchChromium, SKIP_MESSAGE, type DrivenBrowser } from '../helpers/chromium.js';
import { PASSWORD, startConsoleRig, type ConsoleRig } from '../helpers/console.js';
import { CERTUTIL_SKIP_MESSAGE, findCertutil, nssHomeTrusting } from '../helpers/nss.js';

const ready = findChromium() !== null && findCertutil() !== null;
if (!findChromium()) console.warn(SKIP_MESSAGE);
if (!findCertutil()) console.warn(CERTUTIL_SKIP_MESSAGE);

const ACCOUNTS = {
  'd.keys': 'dsl',
  'd.dsl': 'dsl',
  'a.head': 'headteacher',
  't.tech': 'technician',
  'g.aud': 'auditor',
  // Its own account: a TOTP code is good once, and a second sign-in in the same 30 s step would be refused.
  'a.print': 'headteacher',
};
/** Each role's pages, its first page after sign-in first. */
const PAGES: [account: keyof typeof ACCOUNTS, paths: string[]][] = [
  ['d.dsl', ['/alerts', '/reviews', '/self-reports', '/dsl/requests']],
  ['a.head', ['/cases', '/reviews', '/self-reports', '/around']],
  [
    't.tech',
    [
      '/status',
      '/lists',
      '/imports',
      '/explain',
      '/exceptions',
      '/requests',
      '/users',
      '/networks',
      '/changes',
      '/selftest',
    ],
  ],
  ['g.aud', ['/access-log']],
];
/** The longest reference a case may have, unbroken: it must wrap rather than widen the page. */
const LONG_REF = `2026-031/${'x'.repeat(55)}`;
const ZOOM_200 = { width: 640, height: 800, deviceScaleFactor: 2 };
const TABLET = { width: 768, height: 1024, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
/** A4 (210 mm) less 10 mm margins each side, in CSS pixels (96 per inch). */
const A4_PRINTABLE_PX = Math.floor((190 / 25.4) * 96);

describe.skipIf(!ready)('the web console: keyboard, zoom, tablet and print', () => {
  let rig: ConsoleRig;
  let chrome: DrivenBrowser;
  const shots = mkdtempSync(path.join(tmpdir(), 'sg-console-access-'));

  beforeAll(async () => {
    rig = await startConsoleRig(ACCOUNTS);
    const users = new UserStore(rig.config.dataDir);
    await users.add({ name: 'p.pupil', profile: 'pupil', password: 'pupil-password-1' });
    users.close();
    const db = openAdmin(rig.config);
    try {
      openCase(db, {
        ref: LONG_REF,
        subjects: [{ kind: 'user', value: 'p.pupil' }],
        by: 'A. Head',
        osUser: 'test',
        now: Date.now(),
      });
    } finally {
      db.close();
    }
    chrome = await launchChromium({ home: nssHomeTrusting(rig.caPem) });
    console.log(`console access e2e: artefacts in ${shots}`);
  });
  afterAll(async () => {
    await chrome?.close();
    await rig?.proxy.stop();
  });

  async function signIn(name: string, page?: Page): Promise<Page> {
    const p = page ?? (await chrome.browser.newPage());
    await p.goto(`${rig.url}sign-in`);
    await p.type('#name', name);
    await p.type('#password', PASSWORD);
    const secret = rig.secrets.get(name);
    if (secret) await p.type('#code', totpCode(secret, Date.now()));
    await Promise.all([p.waitForNavigation(), p.click('button[type=submit]')]);
    return p;
  }

  // The page's own scripts run as strings: this project's TypeScript has no DOM types.
  const focusedId = (p: Page) =>
    p.evaluate(
      `(() => { const el = document.activeElement; return el ? el.id || el.tagName.toLowerCase() : ''; })()`,
    ) as Promise<string>;
  /** How far the page scrolls sideways (0: it fits). */
  const overflow = (p: Page) =>
    p.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    ) as Promise<number>;

  it('signs a DSL in with the keyboard alone: Tab reaches each field in order, Enter submits', async () => {
    const page = await chrome.browser.newPage();
    await page.goto(`${rig.url}sign-in`);
    const order: string[] = [];
    for (let i = 0; i < 6 && !order.includes('button'); i++) {
      await page.keyboard.press('Tab');
      order.push(await focusedId(page));
    }
    expect(order.filter((id) => ['name', 'password', 'code', 'button'].includes(id))).toEqual([
      'name',
      'password',
      'code',
      'button',
    ]);
    await page.focus('#name');
    await page.keyboard.type('d.keys');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Tab');
    await page.keyboard.type(totpCode(rig.secrets.get('d.keys')!, Date.now()));
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    expect(page.url()).toBe(`${rig.url}alerts`);
    // The visible focus ring the stylesheet promises for keyboard users.
    await page.keyboard.press('Tab');
    const outline = (await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')) as string;
    expect(outline).toBe('solid');
    await page.close();
  });

  it.each(PAGES)('%s: %j have no sideways scrolling at 200 %% zoom or on a tablet', async (name, paths) => {
    const page = await chrome.browser.newPage();
    await page.setViewport(ZOOM_200);
    await signIn(name, page);
    expect(new URL(page.url()).pathname).toBe(paths[0]);
    for (const p of paths) {
      const shot = `${name}${p.replace(/\//g, '-')}`;
      for (const [size, viewport] of [
        ['200pc', ZOOM_200],
        ['tablet', TABLET],
      ] as const) {
        await page.setViewport(viewport);
        const answer = await page.goto(`${rig.url}${p.slice(1)}`);
        expect(answer?.status(), p).toBe(200);
        expect(await overflow(page), `${p} at ${size}`).toBeLessThanOrEqual(0);
        await page.screenshot({ path: path.join(shots, `${shot}-${size}.png`), fullPage: true });
      }
    }
    await page.close();
  });

  it('prints a case page to A4: navigation and forms not drawn, nothing wider than the printable width', async () => {
    const page = await chrome.browser.newPage();
    await signIn('a.print', page);
    await page.goto(`${rig.url}cases`);
    await page.emulateMediaType('print');
    await page.setViewport({ width: A4_PRINTABLE_PX, height: 1000 });
    expect(await overflow(page)).toBeLessThanOrEqual(0);
    const hidden = await page.evaluate(
      `[...document.querySelectorAll('nav, form')].every((el) => el.getClientRects().length === 0)`,
    );
    expect(hidden).toBe(true);
    expect(await page.content()).toContain(LONG_REF);
    const pdf = path.join(shots, 'cases.pdf');
    await page.pdf({
      path: pdf,
      format: 'A4',
      margin: { top: '10mm', bottom: '10mm', left: '10mm', right: '10mm' },
    });
    expect(statSync(pdf).size).toBeGreaterThan(1_000);
    expect(readFileSync(pdf).subarray(0, 5).toString()).toBe('%PDF-');
    await page.close();
  });
});
