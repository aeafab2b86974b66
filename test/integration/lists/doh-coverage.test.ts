/**
 * DNS-over-HTTPS endpoints are blocked for pupils (issue 11 item 6): a resolver the proxy lets through
 * resolves every name past the school's DNS filter. Decided with the shipped lists and shipped profiles.
 *
 * The shipped `doh` list is hand-made from the operators' own pages (see its header: the large public list
 * is GPL-3.0 and is not copied into this MIT repository); a school gets the full list by importing it into
 * its local layer, which the second part checks end to end when the shared data folder is present.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/app/start.js';
import { validateConfig, type ReadonlyConfig } from '../../../src/config/load.js';
import { importList } from '../../../src/lists/import.js';
import { decide } from '../../../src/policy/decide.js';
import { parseConnectTarget } from '../../../src/policy/target.js';
import type { LoadedPolicy } from '../../../src/app/reload.js';
import { forEachLine } from '../../../src/lists/read-lines.js';
import { tempDir } from '../../helpers/schoolgate.js';

const NOW = new Date('2026-11-23T10:00:00Z');
const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The DoH endpoint list of the shared data folder (see its SOURCES.md), when this checkout has it. */
const SHARED_DOH = path.resolve(HERE, '../../../../shared/data/doh/dibdot/doh-domains.txt');

function shippedConfig(): ReadonlyConfig {
  const dir = tempDir('schoolgate-doh-');
  return validateConfig({}, { baseDir: dir, overrides: { dataDir: path.join(dir, 'data') } });
}

function pupilDecision(policy: LoadedPolicy, host: string) {
  const pupil = policy.profiles.get('pupil');
  if (!pupil) throw new Error('no shipped pupil profile');
  return decide({ target: parseConnectTarget(`${host}:443`), method: 'CONNECT' }, pupil, policy.lists, NOW);
}

describe('the shipped doh list blocks the public resolvers for pupils', () => {
  let policy: LoadedPolicy;
  beforeAll(async () => {
    policy = await loadPolicy(shippedConfig());
  });

  it.each([
    // Browser defaults and the big public resolvers.
    'dns.google',
    'dns.google.com',
    '8888.google',
    'google-public-dns-a.google.com',
    'cloudflare-dns.com',
    'mozilla.cloudflare-dns.com',
    'dns.cloudflare.com',
    'one.one.one.one',
    'doh.dns.apple.com',
    'doh.opendns.com',
    'dns.opendns.com',
    'doh.familyshield.opendns.com',
    'dns.quad9.net',
    'dns12.quad9.net',
    'dns-nosec.quad9.net',
    'dns.nextdns.io',
    'dns1.nextdns.io',
    'steering.nextdns.io',
    'doh.cleanbrowsing.org',
    'family-filter-dns.cleanbrowsing.org',
    'dns.adguard-dns.com',
    'd.adguard-dns.com',
    'freedns.controld.com',
    'doh.mullvad.net',
    'doh.dns.sb',
    'public-dns-a.dns.sb',
    'doh.sb',
    'uk-lon.doh.sb',
    'child.joindns4.eu',
    'protective.joindns4.eu',
    'dns.yandex.ru',
    'common.dot.dns.yandex.net',
    'dns.bitdefender.net',
    'ns1.recursive.dnsbycomodo.com',
    'dns1.nordvpn.com',
    'dns-cybersec.nordthreatprotection.com',
    'dns.surfshark.com',
    'basic.rethinkdns.com',
    'free.bravedns.com',
    'anycast.uncensoreddns.org',
    'dns-doh.dnsforfamily.com',
    'doh.la.ahadns.net',
    'doh-de.blahdns.com',
    'doh.eu.dnswarden.com',
    'dns1.digitale-gesellschaft.ch',
    'doh2.gslb2.xfinity.com',
    'safeservedns.com',
    'frd4wvnobp.cloudflare-gateway.com',
  ])('%s is blocked and reported as doh', (host) => {
    const d = pupilDecision(policy, host);
    expect(d.action).toBe('block');
    expect(d.categories).toContain('doh');
  });

  it('never the operators’ other sites', () => {
    for (const host of ['www.google.com', 'www.cloudflare.com', 'www.apple.com', 'yandex.ru'])
      expect(pupilDecision(policy, host).categories).not.toContain('doh');
  });
});

describe.skipIf(!existsSync(SHARED_DOH))('the shared DoH endpoint list, imported as the README says', () => {
  it('blocks every endpoint in it for pupils', async () => {
    const config = shippedConfig();
    const dirs = { categoriesDir: config.categoriesDir, dataDir: config.dataDir };
    const summary = await importList(dirs, 'doh', SHARED_DOH, { format: 'plain', limits: config.lists });
    expect(summary.invalid).toBe(0);
    const policy = await loadPolicy(config);
    const endpoints: string[] = [];
    await forEachLine([SHARED_DOH], (line) => {
      if (line.trim() !== '') endpoints.push(line.trim());
    });
    expect(endpoints.length).toBeGreaterThan(1000);
    const notBlocked = endpoints.filter((host) => pupilDecision(policy, host).action !== 'block');
    expect(notBlocked).toEqual([]);
  });
});
