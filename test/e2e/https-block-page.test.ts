/**
 * The block and warn pages over HTTPS in a real browser. Headless Debian chromium with --proxy-server trusts
 * the school CA the way an enrolled device does: through its NSS database ($HOME/.pki/nssdb, made with
 * certutil), never --ignore-certificate-errors. Two proxies share one school CA; each maps the loopback
 * network to one profile (pupil: social blocked; staff: social warned).
 *
 * - A pupil's CONNECT to a blocked host is accepted and inspected, and the first inner request gets OUR block
 *   page (category, reference, "I reached this by accident"); no byte reaches the origin.
 * - Staff get the warn page over HTTPS; pressing Continue (clicked with puppeteer-core) reaches the origin.
 *
 * Screenshots are kept under a temp dir (path printed).
 */
import { mkdtempSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../src/app/start.js';
import {
  chromiumLoad,
  chromiumScreenshot,
  findChromium,
  launchChromium,
  SKIP_MESSAGE,
} from '../helpers/chromium.js';
import { CERTUTIL_SKIP_MESSAGE, findCertutil, nssHomeTrusting } from '../helpers/nss.js';
import { startTestProxy, tempDir, testConfig } from '../helpers/schoolgate.js';
import { HTTPS_BODY, makeTestCa, startHttpsOrigin, type HttpsOrigin } from '../integration/tls/fixtures.js';

const chromium = findChromium();
const certutil = findCertutil();
if (!chromium) console.warn(SKIP_MESSAGE);
if (!certutil) console.warn(CERTUTIL_SKIP_MESSAGE);

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

interface Row {
  id: string;
  kind: string;
  action: string;
  profile: string | null;
  path: string | null;
  status: number | null;
}

function rowsFor(auditPath: string, host: string): Row[] {
  const db = new Database(auditPath, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        'SELECT id, kind, action, profile, path, status FROM audit_events WHERE host = ? ORDER BY time_ms, rowid',
      )
      .all(host) as Row[];
  } finally {
    db.close();
  }
}

/** What a person reads: the DOM without scripts, styles and tags (short enough for a failure message). */
function visibleText(dom: string): string {
  return dom
    .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A loopback TCP front for the origin that counts every connection and byte, so "none reached it" is exact. */
interface CountingFront {
  port: number;
  connections: number;
  bytes: number;
  close(): Promise<void>;
}

async function countingFront(targetPort: number): Promise<CountingFront> {
  const sockets = new Set<net.Socket>();
  const front: CountingFront = { port: 0, connections: 0, bytes: 0, close: async () => {} };
  const server = net.createServer((client) => {
    front.connections++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => (front.bytes += chunk.length));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  front.port = (server.address() as net.AddressInfo).port;
  front.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return front;
}

describe.skipIf(!chromium || !certutil)('block and warn pages over HTTPS, school CA trusted via NSS', () => {
  let origin: HttpsOrigin;
  let front: CountingFront;
  let pupils: RunningSchoolgate;
  let staff: RunningSchoolgate;
  let home: string;
  const shots = mkdtempSync(path.join(tmpdir(), 'sg-https-block-e2e-'));

  beforeAll(async () => {
    const root = tempDir();
    const publicCa = makeTestCa(root);
    origin = await startHttpsOrigin((name) => publicCa.issue([name]), 'social.test');
    // The pupils' proxy reaches the origin only through the counting front.
    front = await countingFront(origin.port);
    const proxyFor = (profile: 'pupil' | 'staff', port: number) =>
      startTestProxy(
        testConfig(
          {
            tunnelPorts: [port],
            identity: { networks: [{ cidr: '127.0.0.0/8', profile, name: `loopback-${profile}` }] },
            // One certs folder: the second proxy loads the CA the first one created.
            tls: { certsDir: path.join(root, 'certs'), extraCaFiles: [publicCa.file] },
          },
          tempDir(`schoolgate-${profile}-`),
        ),
      );
    pupils = await proxyFor('pupil', front.port);
    staff = await proxyFor('staff', origin.port);
    expect(staff.proxy.tls!.ca.certPem).toBe(pupils.proxy.tls!.ca.certPem);
    home = nssHomeTrusting(pupils.proxy.tls!.ca.certPem);
    console.log(`https block-page e2e: screenshots in ${shots}`);
  }, 60_000);
  afterAll(async () => {
    await pupils?.stop();
    await staff?.stop();
    await front?.close();
    await origin?.close();
  });

  it('shows a pupil our block page for a blocked HTTPS host; nothing reaches the origin', async () => {
    const url = `https://social.test:${front.port}/`;
    const proxyServer = `http://127.0.0.1:${pupils.address.port}`;
    const seenBefore = origin.seen.length;
    const { dom, loadError } = await chromiumLoad({ url, proxyServer, home });
    const seenBy = (): string => `audit rows: ${JSON.stringify(rowsFor(pupils.auditPath, 'social.test'))}`;
    expect(loadError, `chromium could not load ${url}; ${seenBy()}`).toBeNull();
    const text = visibleText(dom);
    expect(text).toContain('This page is blocked');
    expect(text).toContain('Social networking');
    expect(text).toContain('I reached this by accident');
    const reference = new RegExp(`class="ref">(${UUID.source})<`).exec(dom)?.[1];
    expect(reference, 'reference on the block page').toBeDefined();

    const rows = rowsFor(pupils.auditPath, 'social.test');
    const tunnels = rows.filter((r) => r.kind === 'tunnel');
    const inspected = rows.filter((r) => r.kind === 'inspected');
    // The CONNECT is recorded as blocked (chromium may open more than one socket for a navigation: each is
    // a blocked tunnel row); exactly one inner request was answered, with the block page.
    expect(tunnels.length, JSON.stringify(rows)).toBeGreaterThanOrEqual(1);
    for (const t of tunnels) expect(t).toMatchObject({ action: 'block', profile: 'pupil' });
    expect(inspected, JSON.stringify(rows)).toHaveLength(1);
    expect(inspected[0]).toMatchObject({ id: reference, action: 'block', profile: 'pupil', path: '/' });

    const out = path.join(shots, 'https-blocked-pupil.png');
    await chromiumScreenshot({ url, out, proxyServer, home, width: 1280, height: 900 });
    expect(statSync(out).size).toBeGreaterThan(10_000);
    console.log(`https block-page e2e: block page screenshot ${out}`);

    const reachedOrigin = origin.seen
      .slice(seenBefore)
      .filter((x) => x.servername === 'social.test' || (x.headers.host ?? '').startsWith('social.test'));
    expect(reachedOrigin).toEqual([]);
    expect({ connections: front.connections, bytes: front.bytes }).toEqual({ connections: 0, bytes: 0 });
  }, 90_000);

  it('shows staff the warn page over HTTPS; pressing Continue reaches the origin', async () => {
    const url = `https://social.test:${origin.port}/`;
    const driven = await launchChromium({ proxyServer: `http://127.0.0.1:${staff.address.port}`, home });
    try {
      const page = await driven.browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      const first = await page.goto(url, { waitUntil: 'load' });
      const warnText = visibleText(await page.content());
      expect(warnText).toContain('Restricted site');
      expect(warnText).toContain('Social networking');
      expect(first?.url()).toBe(url);
      const out = path.join(shots, 'https-warned-staff.png');
      await page.screenshot({ path: out });
      expect(statSync(out).size).toBeGreaterThan(10_000);
      console.log(`https block-page e2e: warn page screenshot ${out}`);
      expect(origin.seen.some((s) => s.servername === 'social.test')).toBe(false);

      const [landed] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.click('form button[type="submit"]'),
      ]);
      expect(landed?.url()).toBe(url);
      expect(visibleText(await page.content())).toContain(HTTPS_BODY.trim());
      expect(origin.seen.some((s) => s.servername === 'social.test' && s.url === '/')).toBe(true);
    } finally {
      await driven.close();
    }

    const actions = new Set(rowsFor(staff.auditPath, 'social.test').map((r) => r.action));
    expect([...actions]).toEqual(expect.arrayContaining(['warn', 'continue', 'continued']));
    const rows = rowsFor(staff.auditPath, 'social.test');
    expect(rows.find((r) => r.action === 'warn')).toMatchObject({ kind: 'inspected', profile: 'staff' });
    expect(rows.find((r) => r.action === 'continued' && r.kind === 'inspected')).toMatchObject({
      path: '/',
      profile: 'staff',
    });
  }, 90_000);
});
