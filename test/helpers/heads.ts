/** Request heads and a tunnel for the pure head reader (src/exchange/read-head.ts), without a harness. */
import type { OwnName } from '../../src/exchange/read-head.js';
import type { RequestHead, TunnelContext } from '../../src/exchange/types.js';

/** No target is the proxy itself. */
export const NOT_OWN: OwnName = { isOwn: () => false };

/** An intercepted `CONNECT allowed.test:443` whose ClientHello named allowed.test. */
export const TUNNEL: TunnelContext = {
  tunnelId: 'tunnel',
  clientIp: '10.1.0.5',
  proxyAuthorization: undefined,
  connect: { scheme: 'https', host: 'allowed.test', hostKind: 'domain', port: 443, path: '/' },
  sni: 'allowed.test',
};

export const head = (rawTarget: string, hostHeader?: string): RequestHead => ({
  rawTarget,
  hostHeader,
  rawFailure: null,
});
