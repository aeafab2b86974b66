/** Evaluating a PAC file as a browser would, without DNS (tests). */
import { runInNewContext } from 'node:vm';

/** PAC helper functions as browsers define them, minus DNS: any lookup fails the test. */
export function pacSandbox(): Record<string, unknown> {
  const ipToInt = (ip: string): number => ip.split('.').reduce((a, p) => a * 256 + Number(p), 0);
  const globToRegExp = (glob: string): RegExp =>
    new RegExp(
      `^${glob
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    );
  return {
    isPlainHostName: (h: string) => !h.includes('.'),
    dnsDomainIs: (h: string, d: string) => h.length >= d.length && h.endsWith(d),
    shExpMatch: (s: string, p: string) => globToRegExp(p).test(s),
    isInNet: (h: string, pattern: string, mask: string) => {
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(h)) throw new Error(`isInNet would resolve ${h}`);
      const m = ipToInt(mask);
      return (ipToInt(h) & m) >>> 0 === (ipToInt(pattern) & m) >>> 0;
    },
    myIpAddress: () => '10.1.2.3',
    dnsResolve: (h: string) => {
      throw new Error(`dnsResolve(${h}) called`);
    },
    alert: () => {
      throw new Error('alert() called: injected code ran');
    },
  };
}

/** What a browser's FindProxyForURL answers for `url` under this PAC file. */
export function findProxy(pac: string, url: string): unknown {
  const sandbox = pacSandbox();
  runInNewContext(pac, sandbox, { timeout: 1000 });
  const host = new URL(url).hostname;
  return runInNewContext('FindProxyForURL(u, h)', { ...sandbox, u: url, h: host }, { timeout: 1000 });
}
