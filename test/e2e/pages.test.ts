/**
 * The block and warn pages in a real browser: served with the CSP header from a local server, opened in
 * headless chromium, screenshotted (PNG kept under a temp dir, path printed) and the live DOM checked.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PAGE_HEADERS,
  renderBlockPage,
  renderErrorPage,
  renderWarnPage,
  type PageInfo,
} from '../../src/proxy/pages/index.js';
import {
  chromiumDumpDom,
  chromiumPrintToPdf,
  chromiumScreenshot,
  findChromium,
  SKIP_MESSAGE,
} from '../helpers/chromium.js';

const chromium = findChromium();
if (!chromium) console.warn(SKIP_MESSAGE);

const HOSTILE_URL =
  'http://blocked.example/"><img src=x onerror=alert(1)><script>document.title="pwned"</script>\r\nX';

const ONE_PIXEL_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

const info: PageInfo = {
  url: HOSTILE_URL,
  host: 'blocked.example',
  categories: [
    { name: 'social', title: 'Social networking' },
    { name: 'chat', title: 'Chat rooms' },
  ],
  profile: 'pupils',
  user: 'jsmith<script>alert(2)</script>',
  time: new Date('2026-03-02T14:05:09Z'),
  timeZone: 'Europe/London',
  reference: '0b6f3c1e-5d2a-4c8e-9a51-3f7d2e1c9b40',
  explanation: 'social is blocked for the pupils profile (blocked.example).',
  reportAccidentUrl: '/.schoolgate/report',
};

const pages: Record<string, string> = {
  '/block': renderBlockPage(info),
  '/warn': renderWarnPage({
    ...info,
    url: 'https://www.youtube.com/watch?v=<script>alert(3)</script>',
    host: 'www.youtube.com',
    site: 'youtube.com',
    categories: [{ name: 'streaming', title: 'Video and audio streaming' }],
    profile: 'staff',
    user: 'mrs.jones',
    time: new Date('2026-03-02T10:00:00Z'),
    explanation: 'streaming is restricted for the staff profile (youtube.com).',
    continueAction: '/.schoolgate/continue',
    continueFields: { token: 'abc.def', url: 'https://www.youtube.com/watch?v=abc' },
    goBackUrl: '/back',
    grantUntil: new Date('2026-03-02T15:30:00Z'),
  }),
  '/branded': renderBlockPage({
    ...info,
    branding: {
      schoolName: 'Hillside Primary <b>School</b>',
      contact: 'Ask Mr Patel in IT (room 12)',
      // A real 1x1 PNG: the page's CSP (img-src data:) must let the inlined logo load.
      logo: { type: 'image/png', bytes: Buffer.from(ONE_PIXEL_PNG, 'base64') },
    },
  }),
  '/error': renderErrorPage({
    status: 503,
    url: 'http://example.org/',
    reference: 'a1b2c3d4-0000-4000-8000-000000000001',
    time: new Date('2026-03-02T14:05:09Z'),
    timeZone: 'Europe/London',
  }),
};

describe.skipIf(!chromium)('proxy pages in headless chromium', () => {
  let server: Server;
  let base: string;
  const shots = mkdtempSync(join(tmpdir(), 'sg-pages-e2e-'));

  beforeAll(async () => {
    server = createServer((req, res) => {
      const page = pages[req.url ?? ''];
      if (page === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      res.writeHead(req.url === '/error' ? 503 : 200, PAGE_HEADERS).end(page);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    console.log(`pages e2e: screenshots in ${shots}`);
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('block page: shows categories, reference and escaped address; nothing injected runs', async () => {
    const dom = await chromiumDumpDom({ url: `${base}/block` });
    expect(dom).toContain('This page is blocked');
    expect(dom).toContain('Social networking and Chat rooms');
    expect(dom).toContain('0b6f3c1e-5d2a-4c8e-9a51-3f7d2e1c9b40');
    expect(dom).toContain('Monday, 2 March 2026 at 14:05:09 GMT');
    // The injected markup is text in the page, never an element.
    expect(dom).toContain('&lt;script&gt;document.title="pwned"&lt;/script&gt;');
    expect(dom).not.toMatch(/<script/i);
    expect(dom).not.toMatch(/<img/i);
    expect(dom).toContain('&lt;/script&gt;%0D%0AX</code>');
    expect(dom).toContain('<title>Blocked by the school web filter</title>');
  });

  it('branded block page: the school name (escaped), its logo inlined and the contact line', async () => {
    const dom = await chromiumDumpDom({ url: `${base}/branded` });
    expect(dom).toContain('<span class="school-name">Hillside Primary &lt;b&gt;School&lt;/b&gt;</span>');
    expect(dom).toContain(`<img class="logo" src="data:image/png;base64,${ONE_PIXEL_PNG}"`);
    expect(dom).toContain('<p class="contact">Ask Mr Patel in IT (room 12)</p>');
    expect(dom).not.toMatch(/<b>School/);
    const out = join(shots, 'branded-1280.png');
    await chromiumScreenshot({ url: `${base}/branded`, out, width: 1280, height: 900 });
    expect(readFileSync(out).subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('warn page: has the Continue form and Go back link; nothing injected runs', async () => {
    const dom = await chromiumDumpDom({ url: `${base}/warn` });
    expect(dom).toContain('Video and audio streaming');
    expect(dom).toContain('0b6f3c1e-5d2a-4c8e-9a51-3f7d2e1c9b40');
    expect(dom).toMatch(/<form method="post" action="\/\.schoolgate\/continue">/);
    expect(dom).toContain('>Continue</button>');
    expect(dom).toContain('>Go back</a>');
    expect(dom).toContain('until 15:30 today');
    expect(dom).not.toMatch(/<script/i);
  });

  it.each([
    ['block', 1280, 900],
    ['warn', 1280, 900],
    ['error', 1280, 900],
    ['block', 390, 1400],
    ['warn', 390, 1400],
  ])('%s page screenshot at %ix%i', async (name, width, height) => {
    const out = join(shots, `${name}-${width}.png`);
    await chromiumScreenshot({ url: `${base}/${name}`, out, width, height });
    const png = readFileSync(out);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.length).toBeGreaterThan(5000);
  });

  it('through proxyServer, a page for a name is answered by the proxy (no DNS lookup by the browser)', async () => {
    const seen: string[] = [];
    const proxy = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const page = renderBlockPage({ ...info, url: req.url ?? '', host: req.headers.host ?? '' });
      res.writeHead(403, PAGE_HEADERS).end(page);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (proxy.address() as AddressInfo).port;
      const dom = await chromiumDumpDom({
        url: 'http://blocked.example/some/page?q=1',
        proxyServer: `http://127.0.0.1:${port}`,
      });
      expect(seen).toContain('GET http://blocked.example/some/page?q=1');
      expect(dom).toContain('http://blocked.example/some/page?q=1');
      expect(dom).toContain('This page is blocked');
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('block page prints to PDF', async () => {
    const out = join(shots, 'block.pdf');
    await chromiumPrintToPdf({ url: `${base}/block`, out });
    expect(readFileSync(out).subarray(0, 5).toString('latin1')).toBe('%PDF-');
  });
});
