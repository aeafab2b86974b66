/** Which upstream addresses the proxy will connect to: public unicast only (hostile-inputs A09/A15, issue 11). */
import { describe, expect, it, vi } from 'vitest';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import { isForbiddenAddress, Resolver, type LookupAll } from '../../../src/proxy/resolve.js';

const OWN = new Set(['93.184.216.34']);

describe('upstream addresses', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.1.1',
    '100.64.0.1',
    '0.0.0.0',
    '255.255.255.255',
    '224.0.0.1',
    '198.18.0.1',
    '::1',
    '::',
    'fe80::1',
    'fec0::1', // IPv6 site-local (deprecated, still routed inside some networks)
    'feff::1',
    'fc00::1',
    '::ffff:127.0.0.1',
    '64:ff9b::7f00:1',
    '2002:7f00:1::',
    '2001::1',
    '2001:db8::1',
    '100::1',
    'ff02::1',
    '93.184.216.34', // the proxy's own (public) address
    '203.0.113.7', // documentation range
    'not an address',
  ])('%s is refused', (address) => {
    expect(isForbiddenAddress(address, OWN)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '151.101.0.81', '2a00:1450:4009:81f::200e', '2606:4700:4700::1111'])(
    '%s (public) is reachable',
    (address) => {
      expect(isForbiddenAddress(address, OWN)).toBe(false);
    },
  );
});

/** DNS is off the machine: a table of answers stands in for it. */
function dnsTable(answers: Record<string, string[]>): LookupAll {
  return (name) => {
    const found = answers[name];
    if (found === undefined) return Promise.reject(new Error(`ENOTFOUND ${name}`));
    return Promise.resolve(found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
}

describe('Resolver: a name is checked on every address it resolves to', () => {
  const resolver = new Resolver(
    new Map(),
    dnsTable({
      'site-local.test': ['fec0::1'],
      'site-local-upper.test': ['feff:ffff::1'],
      'mixed.test': ['2606:4700:4700::1111', 'fec0::1'],
      'public.test': ['2606:4700:4700::1111'],
    }),
  );
  const target = (url: string) => parseAbsoluteTarget(url);

  it.each([
    ['an IPv6 site-local literal', 'http://[fec0::1]/', 'fec0::1'],
    ['the top of fec0::/10 as a literal', 'http://[feff:ffff::1]/', 'feff:ffff::1'],
    ['a name resolving to site-local', 'http://site-local.test/', 'fec0::1'],
    ['a name resolving to the top of fec0::/10', 'http://site-local-upper.test/', 'feff:ffff::1'],
    ['a name with one public and one site-local answer', 'http://mixed.test/', 'fec0::1'],
  ])('%s is refused as forbidden-address', async (_what, url, address) => {
    expect(await resolver.resolve(target(url))).toEqual({ ok: false, reason: 'forbidden-address', address });
  });

  it('a name resolving to public unicast only is reachable at that address', async () => {
    expect(await resolver.resolve(target('http://public.test/'))).toEqual({
      ok: true,
      address: '2606:4700:4700::1111',
      family: 6,
      routed: false,
    });
  });
});

describe('Resolver: a name server that never answers cannot stall the proxy', () => {
  /** A DNS that answers only when the test says so: each call is held with its name. */
  function heldDns() {
    const calls: { name: string; answer: (address: string) => void }[] = [];
    const lookupAll: LookupAll = (name) =>
      new Promise((resolve) => {
        calls.push({ name, answer: (address) => resolve([{ address, family: 4 }]) });
      });
    return { calls, lookupAll };
  }

  it('looks a name up once however many requests ask for it at the same time', async () => {
    const dns = heldDns();
    const resolver = new Resolver(new Map(), dns.lookupAll, { timeoutMs: 60_000, maxInFlight: 2 });
    const asked = [1, 2, 3, 4, 5].map(() => resolver.resolve(parseAbsoluteTarget('http://one.test/')));
    expect(dns.calls.map((c) => c.name)).toEqual(['one.test']);
    dns.calls[0]!.answer('8.8.8.8');
    for (const r of await Promise.all(asked)) expect(r).toMatchObject({ ok: true, address: '8.8.8.8' });
  });

  it('runs at most maxInFlight system lookups; the next starts only when one really returns', async () => {
    const dns = heldDns();
    const resolver = new Resolver(new Map(), dns.lookupAll, { timeoutMs: 60_000, maxInFlight: 2 });
    const asked = ['a.test', 'b.test', 'c.test'].map((h) =>
      resolver.resolve(parseAbsoluteTarget(`http://${h}/`)),
    );
    await Promise.resolve();
    expect(dns.calls.map((c) => c.name)).toEqual(['a.test', 'b.test']);
    expect(resolver.lookups).toEqual({ running: 2, queued: 1 });
    dns.calls[0]!.answer('8.8.8.8');
    await asked[0];
    await vi.waitFor(() => expect(dns.calls.map((c) => c.name)).toEqual(['a.test', 'b.test', 'c.test']));
    dns.calls[1]!.answer('8.8.4.4');
    dns.calls[2]!.answer('1.1.1.1');
    expect((await Promise.all(asked)).map((r) => r.ok && r.address)).toEqual([
      '8.8.8.8',
      '8.8.4.4',
      '1.1.1.1',
    ]);
  });

  it('answers lookup-timeout when no answer comes, keeping the stuck lookup in its slot', async () => {
    const dns = heldDns();
    const resolver = new Resolver(new Map(), dns.lookupAll, { timeoutMs: 1, maxInFlight: 1 });
    expect(await resolver.resolve(parseAbsoluteTarget('http://silent.test/'))).toEqual({
      ok: false,
      reason: 'lookup-timeout',
    });
    // The system lookup is still running: a second name waits for the slot, and also times out.
    expect(await resolver.resolve(parseAbsoluteTarget('http://other.test/'))).toEqual({
      ok: false,
      reason: 'lookup-timeout',
    });
    expect(dns.calls.map((c) => c.name)).toEqual(['silent.test']);
    expect(resolver.lookups).toEqual({ running: 1, queued: 1 });
    // When the name server finally answers, the queued name gets the slot.
    dns.calls[0]!.answer('8.8.8.8');
    await vi.waitFor(() => expect(dns.calls.map((c) => c.name)).toEqual(['silent.test', 'other.test']));
    dns.calls[1]!.answer('1.1.1.1');
    await vi.waitFor(() => expect(resolver.lookups).toEqual({ running: 0, queued: 0 }));
  });
});

describe('with a parent proxy (upstream.proxy)', () => {
  const noLookup: LookupAll = (name) => Promise.reject(new Error(`looked up ${name}`));
  const viaParent = new Resolver(new Map([['intranet.test', '10.0.0.5']]), noLookup, undefined, true);
  const at = (url: string) => viaParent.resolve(parseAbsoluteTarget(url));

  it.each([
    [
      'a name is left to the parent, unresolved',
      'http://www.outside.test/',
      { address: 'www.outside.test', viaParent: true },
    ],
    [
      'a public IP literal goes through the parent',
      'http://8.8.8.8/',
      { address: '8.8.8.8', viaParent: true },
    ],
    [
      'a routed name goes straight to its address',
      'http://intranet.test/',
      { address: '10.0.0.5', routed: true },
    ],
  ])('%s', async (_what, url, expected) => {
    const r = await at(url);
    expect(r).toMatchObject({ ok: true, ...expected });
    if (!('viaParent' in expected)) expect(r).not.toHaveProperty('viaParent');
  });

  it.each(['http://10.1.2.3/', 'http://127.0.0.1/', 'http://localhost/'])(
    '%s is still refused',
    async (url) => {
      expect(await at(url)).toMatchObject({ ok: false, reason: 'forbidden-address' });
    },
  );
});
