/**
 * Look-alike host names through the running proxy (hostile-inputs A08, issue 11 item 6): `blоcked.example`
 * with a Cyrillic о, however it is sent (punycode, raw UTF-8, percent-encoded; absolute-form, CONNECT, or
 * Host inside an inspected tunnel), is logged as its own name and blocked as the listed name it imitates;
 * a label mixing scripts that is on no list is blocked as `mixed-script-host`; a name in one other script
 * that imitates nothing listed is decided like any other name.
 */
import { describe, expect, it } from 'vitest';
import { tempDir, testConfig } from '../../helpers/schoolgate.js';
import { browseTunnel } from '../../helpers/tls-tunnel.js';
import { markOrigin, originDelta, ORIGIN_TEXT, proxyWithOrigin, talk } from './harness.js';

const LOOKALIKE = 'xn--blcked-xqf.example'; // blоcked.example, Cyrillic о
const MIXED_UNLISTED = 'xn--ggle-55da.test'; // gооgle.test, two Cyrillic о, on no list
const RUSSIAN = 'xn--e1afmkfd.test'; // пример.test: one script, imitates nothing listed

const t = proxyWithOrigin((P) =>
  testConfig(
    {
      httpPorts: [P],
      tunnelPorts: [P],
      // Routed, so that a wrong allow would reach the origin (and show) instead of failing a DNS lookup.
      hosts: { [LOOKALIKE]: '127.0.0.1', [MIXED_UNLISTED]: '127.0.0.1', [RUSSIAN]: '127.0.0.1' },
    },
    tempDir('schoolgate-lookalike-'),
  ),
);

const get = (url: string) => `GET ${url} HTTP/1.1\r\nHost: ${new URL(url).host}\r\n\r\n`;

describe('a look-alike of a listed name', () => {
  it.each([
    ['punycode', `xn--blcked-xqf.example`],
    ['percent-encoded UTF-8', 'bl%D0%BEcked.example'],
  ])('absolute-form, %s: 403, logged as its punycode, decided as blocked.example', async (_how, host) => {
    const { P, sg, audit, origin } = t;
    const mark = audit.mark();
    const before = markOrigin(origin);
    const ex = await talk(sg.address.port, `GET http://${host}:${P}/a08 HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(ex.status, ex.raw.split('\r\n')[0]).toBe(403);
    expect(audit.since(mark)).toMatchObject([
      {
        kind: 'request',
        action: 'block',
        reason: 'category',
        rule: 'category:adult:blocked.example',
        host: LOOKALIKE,
        categories: '["adult"]',
      },
    ]);
    expect(originDelta(origin, before)).toMatchObject({ connections: 0, bytes: 0 });
  });

  it.each([
    ['absolute-form', `GET http://blоcked.example:P/a08 HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['CONNECT', `CONNECT blоcked.example:P HTTP/1.1\r\nHost: blоcked.example:P\r\n\r\n`],
  ])('%s in raw UTF-8: Node refuses the request line, 400 and a reject row', async (_how, bytes) => {
    const { P, sg, audit, origin } = t;
    const mark = audit.mark();
    const before = markOrigin(origin);
    const ex = await talk(sg.address.port, bytes.replaceAll(':P', `:${P}`));
    expect(ex.status).toBe(400);
    expect(ex.closed).toBe(true);
    expect(audit.since(mark)).toMatchObject([
      { action: 'reject', reason: expect.stringMatching(/^bad-request:/) },
    ]);
    expect(originDelta(origin, before)).toMatchObject({ connections: 0, bytes: 0 });
  });

  it('CONNECT in punycode: the tunnel is opened only for its block page', async () => {
    const { P, sg, audit, origin } = t;
    const mark = audit.mark();
    const before = markOrigin(origin);
    const browse = await browseTunnel(sg.address.port, `${LOOKALIKE}:${P}`, { ca: sg.proxy.tls!.ca.certPem });
    expect(browse.connect.status).toBe(200);
    expect(browse.inner?.status).toBe(403);
    expect(audit.since(mark)).toMatchObject([
      { kind: 'tunnel', action: 'block', reason: 'block-page:category', host: LOOKALIKE },
      { kind: 'inspected', action: 'block', reason: 'category', host: LOOKALIKE, status: 403 },
    ]);
    expect(originDelta(origin, before)).toMatchObject({ connections: 0, bytes: 0 });
  });

  it('Host in punycode inside an inspected tunnel: 403 for that request', async () => {
    const { P, sg, audit, origin } = t;
    const mark = audit.mark();
    const before = markOrigin(origin);
    const browse = await browseTunnel(sg.address.port, `notblocked.example:${P}`, {
      ca: sg.proxy.tls!.ca.certPem,
      request: `GET /inner HTTP/1.1\r\nHost: ${LOOKALIKE}\r\nConnection: close\r\n\r\n`,
    });
    expect(browse.inner?.status).toBe(403);
    expect(audit.since(mark).find((r) => r.kind === 'inspected')).toMatchObject({
      action: 'block',
      rule: 'category:adult:blocked.example',
      host: LOOKALIKE,
    });
    expect(originDelta(origin, before)).toMatchObject({ started: 0 });
  });

  it('Host in raw UTF-8 inside an inspected tunnel: 400 (Node reads it as latin1, another name), a reject row', async () => {
    const { P, sg, audit, origin } = t;
    const mark = audit.mark();
    const before = markOrigin(origin);
    const browse = await browseTunnel(sg.address.port, `notblocked.example:${P}`, {
      ca: sg.proxy.tls!.ca.certPem,
      request: `GET /inner HTTP/1.1\r\nHost: blоcked.example\r\n\r\n`,
    });
    expect(browse.inner?.status).toBe(400);
    expect(audit.since(mark).find((r) => r.kind === 'inspected')).toMatchObject({
      action: 'reject',
      reason: 'bad-request:non-ascii-host',
      host: 'notblocked.example',
    });
    expect(originDelta(origin, before)).toMatchObject({ started: 0 });
  });
});

describe('names in other scripts that imitate nothing listed', () => {
  it('a label mixing scripts is blocked as mixed-script-host, though the profile allows unlisted names', async () => {
    const { P, sg, audit, origin } = t;
    const mark = audit.mark();
    const before = markOrigin(origin);
    const ex = await talk(sg.address.port, get(`http://${MIXED_UNLISTED}:${P}/mixed`));
    expect(ex.status).toBe(403);
    expect(audit.since(mark)).toMatchObject([
      { action: 'block', reason: 'mixed-script-host', host: MIXED_UNLISTED },
    ]);
    expect(originDelta(origin, before)).toMatchObject({ connections: 0, bytes: 0 });
  });

  it('a name in one script is decided like any other (allowed by default here) and reaches its origin', async () => {
    const { P, sg, audit } = t;
    const mark = audit.mark();
    const ex = await talk(sg.address.port, get(`http://${RUSSIAN}:${P}/ru`));
    expect(ex.status).toBe(200);
    expect(ex.final?.body).toBe(ORIGIN_TEXT);
    expect(audit.since(mark)).toMatchObject([{ action: 'allow', reason: 'default', host: RUSSIAN }]);
  });
});
