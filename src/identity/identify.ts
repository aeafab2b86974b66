/**
 * Who is asking: Basic proxy credentials (when on), else the client address mapped to a device or a
 * network profile, else the guest profile. Successful credential checks are cached briefly, because scrypt
 * is deliberately slow (tens of ms) and a browser sends the header on every request.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { ReadonlyConfig } from '../config/load.js';
import { AddressMap, type DeviceEntry, type NetworkEntry } from './address-map.js';
import { parseBasicCredentials } from './basic-auth.js';
import { verifyPassword } from './password.js';
import type { UserStore } from './user-store.js';

const RECHECK_MS = 5_000;

export interface Identity {
  user: string | null;
  profile: string;
  device: string | null;
  via: 'basic' | 'device' | 'network' | 'guest';
}

export type IdentifyResult =
  | { ok: true; identity: Identity }
  | { ok: false; reason: 'auth-required' | 'bad-credentials' | 'malformed-credentials'; user: string | null };

export interface IdentifyInput {
  clientIp: string;
  proxyAuthorization: string | undefined;
}

/** Networks and devices managed from the CLI (state database), in addition to the config's. */
export interface ExtraAddresses {
  devices: readonly DeviceEntry[];
  networks: readonly NetworkEntry[];
}

export class Identifier {
  private addresses: AddressMap;
  /** Verified credentials → user. Entries older than RECHECK_MS re-read the user, so a disabled or
   * re-profiled user loses access within seconds, without a database read on every request. */
  private readonly verified = new LRUCache<string, { user: string; profile: string; checkedAt: number }>({
    max: 10_000,
    ttl: 5 * 60_000,
  });

  constructor(
    private config: ReadonlyConfig,
    private readonly users: UserStore,
    extra: ExtraAddresses = { devices: [], networks: [] },
  ) {
    this.addresses = addressMap(config, extra);
  }

  /** A reload: new identity settings and address map, swapped in whole (requests in flight keep theirs). */
  reconfigure(config: ReadonlyConfig, extra: ExtraAddresses): void {
    const addresses = addressMap(config, extra);
    this.config = config;
    this.addresses = addresses;
    this.verified.clear();
  }

  async identify(input: IdentifyInput): Promise<IdentifyResult> {
    const { identity: idConfig } = this.config;
    const device = this.addresses.device(input.clientIp);
    if (idConfig.basicAuth) {
      const creds = parseBasicCredentials(input.proxyAuthorization);
      if (creds === 'malformed') return { ok: false, reason: 'malformed-credentials', user: null };
      if (creds) {
        const checked = await this.checkCredentials(input.proxyAuthorization!, creds.user, creds.password);
        if (!checked) return { ok: false, reason: 'bad-credentials', user: creds.user };
        return {
          ok: true,
          identity: {
            user: checked.user,
            profile: checked.profile,
            device: device?.name ?? null,
            via: 'basic',
          },
        };
      }
      if (idConfig.requireAuth) return { ok: false, reason: 'auth-required', user: null };
    }
    if (device) {
      const user = device.user ? this.users.get(device.user) : undefined;
      const profile = device.profile ?? user?.profile ?? this.networkProfile(input.clientIp);
      return {
        ok: true,
        identity: { user: device.user ?? null, profile, device: device.name, via: 'device' },
      };
    }
    const network = this.addresses.network(input.clientIp);
    if (network)
      return { ok: true, identity: { user: null, profile: network.profile, device: null, via: 'network' } };
    return { ok: true, identity: { user: null, profile: idConfig.guestProfile, device: null, via: 'guest' } };
  }

  private networkProfile(clientIp: string): string {
    return this.addresses.network(clientIp)?.profile ?? this.config.identity.guestProfile;
  }

  private async checkCredentials(
    header: string,
    name: string,
    password: string,
  ): Promise<{ user: string; profile: string } | null> {
    const key = createHash('sha256').update(header).digest('base64');
    const cached = this.verified.get(key);
    if (cached) {
      const now = Date.now();
      if (now - cached.checkedAt < RECHECK_MS) return cached;
      // A disabled or re-profiled user must not keep access through the cache.
      const current = this.users.get(cached.user);
      if (current && !current.disabled) {
        const fresh = { user: current.name, profile: current.profile, checkedAt: now };
        this.verified.set(key, fresh, { noUpdateTTL: true });
        return fresh;
      }
      this.verified.delete(key);
      return null;
    }
    const user = this.users.get(name);
    if (!user || user.disabled || !user.passwordHash) return null;
    if (!(await verifyPassword(password, user.passwordHash))) return null;
    const result = { user: user.name, profile: user.profile, checkedAt: Date.now() };
    this.verified.set(key, result);
    return result;
  }
}

/** Config entries first: for the same address or CIDR, the config file wins over the CLI-managed table. */
function addressMap(config: ReadonlyConfig, extra: ExtraAddresses): AddressMap {
  const devices = [...config.identity.devices];
  const seen = new Set(devices.map((d) => d.address));
  for (const d of extra.devices) if (!seen.has(d.address)) devices.push(d);
  const networks = [...config.identity.networks];
  const cidrs = new Set(networks.map((n) => n.cidr));
  for (const n of extra.networks) if (!cidrs.has(n.cidr)) networks.push(n);
  return new AddressMap(devices, networks);
}
