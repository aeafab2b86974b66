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
    // Found by test/fuzz/target.test.ts: UTS-46 drops a byte-order mark, so both read blocked.example; the
    // tunnel used to refuse it as a Host with whitespace, a reading of its own.
    ['blocked\ufeff.example', 'target blocked.example'],
    ['allowed.test@blocked.example', 'bad-request:userinfo'],
    ['allowed.test\\blocked.example', 'bad-request:bad-url'],
    ['allowed .test', 'bad-request:bad-url'],
    ['allowed.test\u00a0', 'bad-request:bad-idn'],
    ['allowed.test\u0085', 'bad-request:bad-host'],
  ])('%j → %s on both paths', (host, expected) => {
    expect(readings(host)).toEqual({ onProxyPort: expected, inTunnel: expected });
  });
});
