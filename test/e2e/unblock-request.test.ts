/**
 * An unblock request end to end: a pupil's headless chromium (through the proxy, on loopback) gets a real
 * block page, writes a reason and sends it; the technician approves it from the compiled CLI; the next
 * visit reaches the site. A second request is denied and the next visit says so, with the note. Every step
 * has its audit row (unblock-request, unblock-approved, unblock-denied) on the pupil's record.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../src/app/start.js';
import { UserStore } from '../../src/identity/user-store.js';
import { withState } from '../../src/state/store.js';
import { findChromium, launchChromium, SKIP_MESSAGE, type DrivenBrowser } from '../helpers/chromium.js';
import { runCli } from '../helpers/cli.js';
import { ORIGIN_BODY, startOrigin, type Origin } from '../helpers/origin.js';
import { startTestProxy, testConfig } from '../helpers/schoolgate.js';

const chromium = findChromium();
if (!chromium) console.warn(SKIP_MESSAGE);

describe.skipIf(!chromium)('unblock requests from a real block page', { timeout: 120_000 }, () => {
  let origin: Origin;
  let sg: RunningSchoolgate;
  let driven: DrivenBrowser;
  let dataDir: string;
  let categoriesDir: string;

  beforeAll(async () => {
    origin = await startOrigin();
    // The browser's address is jo's laptop: jo is identified without a password prompt.
    const config = testConfig({
      httpPorts: [origin.port],
      identity: { devices: [{ address: '127.0.0.1', name: 'jo laptop', user: 'jo' }] },
    });
    dataDir = config.dataDir;
    categoriesDir = config.categoriesDir;
    const users = new UserStore(config.dataDir);
    await users.add({ name: 'jo', profile: 'pupil', password: 'pw-jo-123456' });
    users.close();
    sg = await startTestProxy(config);
    driven = await launchChromium({ proxyServer: `http://127.0.0.1:${sg.address.port}` });
  });

  afterAll(async () => {
    await driven?.close();
    await sg?.stop();
    await origin?.close();
  });

  const cli = (...args: string[]) => runCli([...args, '--data', dataDir, '--categories', categoriesDir]);

  function auditRows(): {
    action: string;
    user: string | null;
    host: string;
    reason: string;
    note: string | null;
  }[] {
    const db = new Database(sg.auditPath, { readonly: true });
    try {
      return db
        .prepare(
          `SELECT action, username AS user, host, reason, note FROM audit_events
           WHERE action LIKE 'unblock-%' ORDER BY seq`,
        )
        .all() as never;
    } finally {
      db.close();
    }
  }

  async function askFor(url: string, reason: string): Promise<string> {
    const page = await driven.browser.newPage();
    try {
      const blocked = await page.goto(url, { waitUntil: 'load' });
      expect(blocked?.status()).toBe(403);
      expect(await page.$eval('h1', (h) => h.textContent)).toContain('blocked');
      await page.type('#unblock-reason', reason);
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.click('form[action="/.schoolgate/unblock"] button[type="submit"]'),
      ]);
      return await page.$eval('main', (m) => m.textContent ?? '');
    } finally {
      await page.close();
    }
  }

  async function visit(url: string): Promise<{ status: number | undefined; text: string }> {
    const page = await driven.browser.newPage();
    try {
      const res = await page.goto(url, { waitUntil: 'load' });
      return { status: res?.status(), text: await page.$eval('body', (b) => b.textContent ?? '') };
    } finally {
      await page.close();
    }
  }

  it('is sent from the block page, approved from the CLI, and the next visit is allowed', async () => {
    const url = `http://social.test:${origin.port}/class-page`;
    const sent = await askFor(url, 'Our class page for the history project');
    expect(sent).toContain('Your request has been sent to IT');
    expect(sent).toContain('Our class page for the history project');

    const waiting = await withState(dataDir, (s) => s.requests.list({ status: 'pending' }));
    expect(waiting).toMatchObject([
      {
        id: 1,
        user: 'jo',
        profile: 'pupil',
        site: 'social.test',
        reason: 'Our class page for the history project',
      },
    ]);
    expect(waiting[0]!.url).toBe(url);
    // Until IT answer, the block page says the request is waiting (and offers no second form).
    const meanwhile = await visit(url);
    expect(meanwhile.status).toBe(403);
    expect(meanwhile.text).toContain('IT have not answered yet');

    const approved = await cli(
      'requests',
      'approve',
      '1',
      '--by',
      'Mr Jones',
      '--expires',
      '2w',
      '--note',
      'ok',
    );
    expect(approved.stderr).not.toContain('error');
    expect(approved.code).toBe(0);
    expect(approved.stdout).toMatch(/added +1 allow social\.test for user jo, until 20\d\d-/);

    const after = await visit(url);
    expect(after.status).toBe(200);
    expect(after.text).toBe(ORIGIN_BODY);
    expect(origin.seen.map((r) => r.url)).toContain('/class-page');

    const exceptions = await withState(dataDir, (s) => s.exceptions.list());
    expect(exceptions).toMatchObject([
      {
        id: 1,
        site: 'social.test',
        action: 'allow',
        scope: { kind: 'user', name: 'jo' },
        createdBy: 'Mr Jones',
        origin: 'request:1',
      },
    ]);
    expect(auditRows()).toEqual([
      {
        action: 'unblock-request',
        user: 'jo',
        host: 'social.test',
        reason: 'unblock-request:1',
        note: 'Our class page for the history project',
      },
      {
        action: 'unblock-approved',
        user: 'jo',
        host: 'social.test',
        reason: 'unblock-approved:1',
        note: 'by Mr Jones: ok',
      },
    ]);
  });

  it('is denied with a note that the next visit shows', async () => {
    const url = `http://blocked.example:${origin.port}/`;
    expect(await askFor(url, 'I want to chat')).toContain('Your request has been sent to IT');
    const denied = await cli('requests', 'deny', '2', '--by', 'IT', '--note', 'not for school work');
    expect(denied.code).toBe(0);
    const next = await visit(url);
    expect(next.status).toBe(403);
    expect(next.text).toContain('Your request was denied');
    expect(next.text).toContain('not for school work');
    expect(auditRows().at(-1)).toMatchObject({ action: 'unblock-denied', reason: 'unblock-denied:2' });
    // The CLI's own audit rows joined the proxy's hash chain: it verifies end to end.
    const verified = await cli('audit', 'verify');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const changes = await cli('changes', '--action', 'requests', '--json');
    expect(
      (JSON.parse(changes.stdout) as { action: string; by: string }[]).map((c) => [c.action, c.by]),
    ).toEqual([
      ['requests.approve', 'Mr Jones'],
      ['requests.deny', 'IT'],
    ]);
  });
});
