/**
 * A real browser through the inspecting proxy: headless Debian chromium with --proxy-server, trusting the
 * school CA's shared leaf key (--ignore-certificate-errors-spki-list, the base64 SHA-256 of the leaf SPKI),
 * loads an allowed HTTPS page (the origin's body) and gets the block page, over HTTPS, for a blocked path on
 * the same host. The origin is a loopback HTTPS server whose certificate chains to a throwaway CA the proxy
 * trusts via tls.extraCaFiles. Screenshots are kept under a temp dir (path printed).
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../src/app/start.js';
import { chromiumDumpDom, chromiumScreenshot, findChromium, SKIP_MESSAGE } from '../helpers/chromium.js';
import { startTestProxy, tempDir, testConfig } from '../helpers/schoolgate.js';
import { HTTPS_BODY, makeTestCa, startHttpsOrigin, type HttpsOrigin } from '../integration/tls/fixtures.js';

const chromium = findChromium();
if (!chromium) console.warn(SKIP_MESSAGE);

describe.skipIf(!chromium)('a browser through the HTTPS-inspecting proxy', () => {
  let origin: HttpsOrigin;
  let sg: RunningSchoolgate;
  let proxyServer: string;
  let trustLeaf: string;
  const shots = mkdtempSync(path.join(tmpdir(), 'sg-https-e2e-'));

  beforeAll(async () => {
    const dir = tempDir();
    const publicCa = makeTestCa(dir);
    origin = await startHttpsOrigin((name) => publicCa.issue([name]), 'allowed.test');
    sg = await startTestProxy(
      testConfig(
        {
          tunnelPorts: [origin.port],
          tls: { certsDir: path.join(dir, 'certs'), extraCaFiles: [publicCa.file] },
        },
        dir,
      ),
    );
    proxyServer = `http://127.0.0.1:${sg.address.port}`;
    trustLeaf = `--ignore-certificate-errors-spki-list=${sg.proxy.tls!.leaves.spkiSha256}`;
    console.log(`https e2e: screenshots in ${shots}`);
  });
  afterAll(async () => {
    await sg?.stop();
    await origin?.close();
  });

  it('shows the origin page for an allowed HTTPS site, and records the full path', async () => {
    const url = `https://allowed.test:${origin.port}/lessons/maths`;
    const dom = await chromiumDumpDom({ url, proxyServer, extraArgs: [trustLeaf] });
    expect(dom).toContain(HTTPS_BODY.trim());
    expect(origin.seen.some((s) => s.url === '/lessons/maths')).toBe(true);
    const db = new Database(sg.auditPath, { readonly: true });
    const row = db
      .prepare("SELECT action, kind, scheme FROM audit_events WHERE path = '/lessons/maths'")
      .get();
    db.close();
    expect(row).toEqual({ action: 'allow', kind: 'inspected', scheme: 'https' });
  });

  it('shows the block page over HTTPS for a blocked path on an allowed host', async () => {
    const url = `https://allowed.test:${origin.port}/videos/cats`;
    const out = path.join(shots, 'https-blocked.png');
    await chromiumScreenshot({ url, out, proxyServer, extraArgs: [trustLeaf], width: 1280, height: 900 });
    expect(statSync(out).size).toBeGreaterThan(10_000);
    const dom = await chromiumDumpDom({ url, proxyServer, extraArgs: [trustLeaf] });
    expect(dom).toContain('This page is blocked');
    expect(dom).toContain('Audio and video streaming');
    expect(dom).toContain(`https://allowed.test:${origin.port}/videos/cats`);
    expect(origin.seen.some((s) => s.url === '/videos/cats')).toBe(false);
  });
});
