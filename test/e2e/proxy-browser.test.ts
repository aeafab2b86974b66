/**
 * A real browser pointed at the proxy (headless Debian chromium, --proxy-server): an allowed page shows
 * the origin's content; a blocked one shows the block page with its category and reference; the audit
 * database has a row for each. Screenshots are kept under a temp dir (path printed).
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../src/app/start.js';
import { chromiumDumpDom, chromiumScreenshot, findChromium, SKIP_MESSAGE } from '../helpers/chromium.js';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startTestProxy, testConfig } from '../helpers/schoolgate.js';

const chromium = findChromium();
if (!chromium) console.warn(SKIP_MESSAGE);

describe.skipIf(!chromium)('a browser using schoolgate as its proxy', () => {
  let origin: Origin;
  let sg: RunningSchoolgate;
  let proxyServer: string;
  const shots = mkdtempSync(path.join(tmpdir(), 'sg-browser-e2e-'));

  beforeAll(async () => {
    origin = await startOrigin();
    sg = await startTestProxy(testConfig({ httpPorts: [origin.port] }));
    proxyServer = `http://127.0.0.1:${sg.address.port}`;
    console.log(`proxy browser e2e: screenshots in ${shots}`);
  });
  afterAll(async () => {
    await sg?.stop();
    await origin?.close();
  });

  it('shows the origin page for an allowed site', async () => {
    const dom = await chromiumDumpDom({ url: `http://allowed.test:${origin.port}/hello`, proxyServer });
    expect(dom).toContain('hello from the origin');
    expect(origin.seen.some((s) => s.url === '/hello')).toBe(true);
  });

  it('shows the block page, with category and reference, for a blocked site', async () => {
    // Not www.facebook.com: it is on Chromium's HSTS preload list, so the browser would go to https://.
    const url = `http://social.test:${origin.port}/`;
    const out = path.join(shots, 'blocked.png');
    await chromiumScreenshot({ url, out, proxyServer, width: 1280, height: 900 });
    expect(statSync(out).size).toBeGreaterThan(10_000);
    const dom = await chromiumDumpDom({ url, proxyServer });
    expect(dom).toContain('This page is blocked');
    expect(dom).toContain('Social networking');
    const reference = /[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(dom)?.[0];
    expect(reference).toBeDefined();
    const db = new Database(sg.auditPath, { readonly: true });
    const row = db.prepare('SELECT action, host, categories FROM audit_events WHERE id = ?').get(reference);
    db.close();
    expect(row).toEqual({ action: 'block', host: 'social.test', categories: '["social"]' });
  });
});
