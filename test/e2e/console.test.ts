/**
 * The web console in headless Debian chromium (puppeteer-core), trusting the school CA through an NSS
 * database as an enrolled device does (no certificate error switches): a DSL signs in with password and
 * TOTP, sees an alert raised by a request through the proxy and acknowledges it; a headteacher opens a case
 * and pulls a person's report, and the access record names them; a technician adds a domain with a reason
 * and the running proxy blocks it, and is refused a person's report (403, recorded); the auditor sees the
 * record. Screenshots of each page are kept under a temp dir (path printed).
 */
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAlert } from '../../src/audit/alerts-table.js';
import { listAccess } from '../../src/audit/report-access.js';
import { totpCode } from '../../src/console/totp.js';
import { UserStore } from '../../src/identity/user-store.js';
import { openAdmin } from '../../src/reports/run.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/alert-receivers.js';
import { addAlertCategory } from '../helpers/alert-setup.js';
import { findChromium, launchChromium, SKIP_MESSAGE, type DrivenBrowser } from '../helpers/chromium.js';
import { PASSWORD, startConsoleRig, type ConsoleRig } from '../helpers/console.js';
import { CERTUTIL_SKIP_MESSAGE, findCertutil, nssHomeTrusting } from '../helpers/nss.js';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { viaProxy } from '../helpers/raw-http.js';

const ready = findChromium() !== null && findCertutil() !== null;
if (!findChromium()) console.warn(SKIP_MESSAGE);
if (!findCertutil()) console.warn(CERTUTIL_SKIP_MESSAGE);

describe.skipIf(!ready)('the web console in a browser', () => {
  let rig: ConsoleRig;
  let origin: Origin;
  let webhook: WebhookReceiver;
  let chrome: DrivenBrowser;
  const shots = mkdtempSync(path.join(tmpdir(), 'sg-console-e2e-'));

  beforeAll(async () => {
    origin = await startOrigin();
    webhook = await startWebhookReceiver();
    const secretFile = path.join(shots, 'webhook.secret');
    writeFileSync(secretFile, 'a-webhook-secret-of-enough-length', { mode: 0o600 });
    rig = await startConsoleRig(
      { 'd.dsl': 'dsl', 'a.head': 'headteacher', 't.tech': 'technician', 'g.aud': 'auditor' },
      {
        httpPorts: [origin.port],
        hosts: { 'hate.test': '127.0.0.1' },
        alerts: { webhook: { url: webhook.url, secretFile } },
      },
      (config) => addAlertCategory(config.categoriesDir, 'extremism', 'Extremism', ['hate.test']),
    );
    const users = new UserStore(rig.config.dataDir);
    await users.add({ name: 'p.pupil', profile: 'pupil', password: 'pupil-password-1' });
    users.close();
    chrome = await launchChromium({ home: nssHomeTrusting(rig.caPem) });
    console.log(`console e2e: screenshots in ${shots}`);
  });
  afterAll(async () => {
    await chrome?.close();
    await rig?.proxy.stop();
    await webhook?.close();
    await origin?.close();
  });

  async function signIn(name: string): Promise<Page> {
    const page = await chrome.browser.newPage();
    await page.goto(`${rig.url}sign-in`);
    await page.type('#name', name);
    await page.type('#password', PASSWORD);
    const secret = rig.secrets.get(name);
    if (secret) await page.type('#code', totpCode(secret, Date.now()));
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    return page;
  }

  async function shot(page: Page, name: string): Promise<void> {
    const out = path.join(shots, `${name}.png`);
    await page.screenshot({ path: out, fullPage: true });
    expect(statSync(out).size).toBeGreaterThan(5_000);
  }

  it('a DSL signs in with password and TOTP, sees an alert raised through the proxy, and acknowledges it', async () => {
    const r = await viaProxy(rig.proxy.address.port, `http://hate.test:${origin.port}/leaflets`);
    expect(r.status).toBe(200);
    await webhook.waitFor(1); // the alert is stored before the sinks are told
    const page = await signIn('d.dsl');
    expect(page.url()).toBe(`${rig.url}alerts`);
    const inbox = await page.content();
    expect(inbox).toContain('category:extremism');
    expect(inbox).toContain('hate.test');
    await shot(page, 'dsl-alerts-inbox');
    await page.type('input[name=note]', 'Spoke to the pupil; parents informed');
    await Promise.all([page.waitForNavigation(), page.click('form[action$="/ack"] button')]);
    expect(await page.content()).toContain('No open alerts.');
    await shot(page, 'dsl-after-ack');
    const db = openAdmin(rig.config);
    const [alert] = db.prepare('SELECT id FROM alerts').pluck().all() as string[];
    const stored = getAlert(db, alert!);
    db.close();
    expect(stored).toMatchObject({
      status: 'acked',
      ackedBy: 'd.dsl (dsl, console)',
      ackNote: 'Spoke to the pupil; parents informed',
    });
  });

  it('a headteacher opens a case and pulls a person’s report; the access record names them', async () => {
    const page = await signIn('a.head');
    expect(page.url()).toBe(`${rig.url}cases`);
    await page.type('#ref', '2026-020');
    await page.type('#subject', 'p.pupil');
    await page.type('#note', 'Raised by the form tutor');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/cases"] button')]);
    expect(await page.content()).toContain('Case 2026-020');
    await shot(page, 'headteacher-case');
    await page.type('#purpose', 'safeguarding concern from the tutor');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/case/report"] button')]);
    const report = await page.content();
    expect(report).toContain('p.pupil');
    expect(report).toContain('a.head (headteacher, console)');
    await shot(page, 'headteacher-report');
    const db = openAdmin(rig.config);
    const rows = listAccess(db, { caseRef: '2026-020' });
    db.close();
    expect(rows.at(-1)).toMatchObject({
      by: 'a.head (headteacher, console)',
      subject: 'p.pupil',
      outcome: 'granted',
      command: 'report user (console)',
      purpose: 'safeguarding concern from the tutor',
    });
  });

  it('a technician adds a domain with a reason and the running proxy blocks it; a report is refused (403, recorded)', async () => {
    const page = await signIn('t.tech');
    expect(page.url()).toBe(`${rig.url}status`);
    expect(await page.content()).toMatch(/running +yes \(pid \d+\)/);
    await shot(page, 'technician-status');
    await page.goto(`${rig.url}lists`);
    await page.type('#add-category', 'adult');
    await page.type('#add-entry', 'notblocked.example');
    await page.type('#add-reason', 'found by pupils; ticket 77');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/lists/add"] button')]);
    expect(await page.content()).toContain('added notblocked.example');
    await shot(page, 'technician-lists');
    const blocked = await viaProxy(rig.proxy.address.port, `http://notblocked.example:${origin.port}/`);
    expect(blocked.status).toBe(403);
    const refused = await page.goto(`${rig.url}case/report?ref=2026-020&user=p.pupil&purpose=curious`);
    expect(refused?.status()).toBe(403);
    await shot(page, 'technician-refused');
    const db = openAdmin(rig.config);
    const last = listAccess(db, {}).at(-1);
    db.close();
    expect(last).toMatchObject({
      by: 't.tech (technician, console)',
      subject: 'p.pupil',
      outcome: 'refused',
    });
  });

  it('the auditor sees the report-access record', async () => {
    const page = await signIn('g.aud');
    const log = await page.content();
    expect(log).toContain('a.head (headteacher, console)');
    expect(log).toContain('t.tech (technician, console)');
    expect(log).toContain('<td>safeguarding concern from the tutor</td>');
    await shot(page, 'auditor-access-log');
  });
});
