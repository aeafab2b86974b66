/**
 * Networks (CIDR → profile) and devices (fixed address → user or profile) managed from the CLI. They sit
 * beside the ones in the config file; identify.ts merges both (config first, so a config entry wins a tie).
 */
import ipaddr from 'ipaddr.js';
import { SchoolgateError } from '../errors.js';
import type { DeviceEntry, NetworkEntry } from '../identity/address-map.js';
import type { StateDatabase } from './database.js';

interface NetworkRow {
  cidr: string;
  profile: string;
  name: string | null;
  site: string | null;
}
interface DeviceRow {
  address: string;
  name: string;
  user: string | null;
  profile: string | null;
  site: string | null;
}

/** `10.1.0.0/16` in canonical form (network address, compressed IPv6), or a SG_NETWORK_INVALID error. */
export function canonicalCidr(value: string): string {
  try {
    const [ip, bits] = ipaddr.parseCIDR(value);
    const network =
      ip.kind() === 'ipv4'
        ? ipaddr.IPv4.networkAddressFromCIDR(value)
        : ipaddr.IPv6.networkAddressFromCIDR(value);
    return `${network.toString()}/${bits}`;
  } catch {
    throw new SchoolgateError('SG_NETWORK_INVALID', `"${value}" is not a network in CIDR form`, {
      suggestion: 'write an address and prefix length, e.g. 10.20.0.0/16 or fd00:1::/64',
    });
  }
}

export function canonicalIp(value: string): string {
  try {
    // Four dotted parts only: ipaddr also takes "10.20.3" (classful shorthand), which is surely a typo here.
    if (!ipaddr.IPv4.isValidFourPartDecimal(value) && !ipaddr.IPv6.isValid(value)) throw new Error('bad');
    return ipaddr.process(value).toString();
  } catch {
    throw new SchoolgateError('SG_NETWORK_INVALID', `"${value}" is not an IP address`, {
      suggestion: 'write one address, e.g. 10.20.3.17 (no prefix length: that is a network)',
    });
  }
}

export class AddressStore {
  constructor(private readonly db: StateDatabase) {}

  networks(): NetworkEntry[] {
    return (this.db.prepare('SELECT * FROM networks ORDER BY cidr').all() as NetworkRow[]).map((r) => ({
      cidr: r.cidr,
      profile: r.profile,
      ...(r.name ? { name: r.name } : {}),
      ...(r.site ? { site: r.site } : {}),
    }));
  }

  network(cidr: string): NetworkEntry | undefined {
    return this.networks().find((n) => n.cidr === cidr);
  }

  addNetwork(entry: NetworkEntry): void {
    this.db
      .prepare('INSERT INTO networks (cidr, profile, name, site, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(entry.cidr, entry.profile, entry.name ?? null, entry.site ?? null, Date.now());
  }

  /** Sets (or with null clears) a network's site; false when there is no such network. */
  setNetworkSite(cidr: string, site: string | null): boolean {
    return this.db.prepare('UPDATE networks SET site = ? WHERE cidr = ?').run(site, cidr).changes > 0;
  }

  removeNetwork(cidr: string): boolean {
    return this.db.prepare('DELETE FROM networks WHERE cidr = ?').run(cidr).changes > 0;
  }

  devices(): DeviceEntry[] {
    return (this.db.prepare('SELECT * FROM devices ORDER BY address').all() as DeviceRow[]).map((r) => ({
      address: r.address,
      name: r.name,
      ...(r.user ? { user: r.user } : {}),
      ...(r.profile ? { profile: r.profile } : {}),
      ...(r.site ? { site: r.site } : {}),
    }));
  }

  device(address: string): DeviceEntry | undefined {
    return this.devices().find((d) => d.address === address);
  }

  addDevice(entry: DeviceEntry): void {
    this.db
      .prepare(
        'INSERT INTO devices (address, name, user, profile, site, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        entry.address,
        entry.name,
        entry.user ?? null,
        entry.profile ?? null,
        entry.site ?? null,
        Date.now(),
      );
  }

  /** Sets (or with null clears) a device's site; false when there is no such device. */
  setDeviceSite(address: string, site: string | null): boolean {
    return this.db.prepare('UPDATE devices SET site = ? WHERE address = ?').run(site, address).changes > 0;
  }

  removeDevice(address: string): boolean {
    return this.db.prepare('DELETE FROM devices WHERE address = ?').run(address).changes > 0;
  }
}
