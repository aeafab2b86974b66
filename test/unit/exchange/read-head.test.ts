/** The head reader gives a host the same reading on the proxy port and in a tunnel's Host header. */
import { describe, expect, it } from 'vitest';
import { readInnerHead, readProxyHead } from '../../../src/exchange/read-head.js';
import { head, NOT_OWN, TUNNEL } from '../../helpers/heads.js';

function readings(host: string) {
  const onProxyPort = readProxyHead(head(`http://${host}/x`), NOT_OWN);
  const inTunnel = readInnerHead(head('/x', host), TUNNEL);
  const summary = (r: ReturnType<typeof readProxyHead>) =>
    r.kind === 'target' ? `target ${r.target.host}` : r.kind === 'reject' ? r.reason : r.kind;
  return { onProxyPort: summary(onProxyPort), inTunnel: summary(inTunnel) };
}

describe('a Host header reads as the same authority on the proxy port', () => {
  it.each([
    // Found by test/fuzz/target.test.ts: the tunnel refused a byte-order mark as whitespace while the proxy
    // port read blocked.example (UTS-46 drops it). Node decodes heads as latin1, so any non-ASCII authority
    // is refused alike on both paths: the client meant bytes we would read as other letters.
    ['blocked\ufeff.example', 'bad-request:non-ascii-host'],
    ['allowed.test@blocked.example', 'bad-request:userinfo'],
    ['allowed.test\\blocked.example', 'bad-request:bad-url'],
    ['allowed .test', 'bad-request:bad-url'],
    ['allowed.test\u00a0', 'bad-request:non-ascii-host'],
    ['allowed.test\u0085', 'bad-request:non-ascii-host'],
  ])('%j → %s on both paths', (host, expected) => {
    expect(readings(host)).toEqual({ onProxyPort: expected, inTunnel: expected });
  });
});
