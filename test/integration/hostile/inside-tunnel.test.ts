/**
 * Requests inside an inspected tunnel that are not origin-form (issue 11 item 6): an absolute-form URI and
 * an inner CONNECT. Each is refused with 400, the connection closed, nothing forwarded, and one row that
 * names the tunnel's host (never a glued `good.examplehttps:`) and the target as sent.
 */
import { describe, expect, it } from 'vitest';
import { tempDir, testConfig } from '../../helpers/schoolgate.js';
import { browseTunnel } from '../../helpers/tls-tunnel.js';
import { markOrigin, originDelta, proxyWithOrigin } from './harness.js';

const t = proxyWithOrigin((P) =>
  testConfig({ httpPorts: [P], tunnelPorts: [P] }, tempDir('schoolgate-inside-tunnel-')),
);

describe('inside an inspected tunnel to allowed.test', () => {
  it.each([
    [
      'an absolute-form https URI of the tunnel’s own host',
      'GET',
      (P: number) => `https://allowed.test:${P}/`,
    ],
    ['an absolute-form https URI without a port', 'GET', () => 'https://allowed.test/'],
    ['an absolute-form http URI of a blocked host', 'GET', (P: number) => `http://blocked.example:${P}/`],
    ['an inner CONNECT to a blocked host', 'CONNECT', () => 'blocked.example:443'],
    ['an inner CONNECT to the tunnel’s own host', 'CONNECT', (P: number) => `allowed.test:${P}`],
  ])('%s: 400, closed, a reject row with the tunnel’s host', async (_what, method, target) => {
    const { P, sg, audit, origin } = t;
    const sent = target(P);
    const mark = audit.mark();
    const before = markOrigin(origin);
    const browse = await browseTunnel(sg.address.port, `allowed.test:${P}`, {
      ca: sg.proxy.tls!.ca.certPem,
      request: `${method} ${sent} HTTP/1.1\r\nHost: allowed.test:${P}\r\n\r\n`,
    });
    expect(browse.connect.status).toBe(200);
    expect(browse.inner).toMatchObject({ status: 400, closed: true });
    const rows = audit.since(mark);
    expect(rows.filter((r) => r.kind === 'inspected')).toMatchObject([
      {
        method,
        action: 'reject',
        reason: 'bad-request:inner-target',
        host: 'allowed.test',
        path: sent,
        status: 400,
      },
    ]);
    expect(rows.map((r) => r.host)).toEqual(['allowed.test', 'allowed.test']);
    // The tunnel was opened (its TLS connection to nothing: interception connects per request), but no
    // request reached the origin.
    expect(originDelta(origin, before)).toMatchObject({ started: 0 });
  });
});
