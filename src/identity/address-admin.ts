/**
 * Networks (CIDR → profile) and devices (fixed address → user or profile) kept in the state database
 * beside the config file's own: what `schoolgate networks|devices` and the console's networks page both
 * call. A bad CIDR or address is SG_NETWORK_INVALID before anything is written; every change is in the
 * admin-changes record. The caller reloads the running proxy (it reads these at a reload).
 */
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError } from '../errors.js';
import { canonicalCidr, canonicalIp } from '../state/addresses.js';
import { withState } from '../state/store.js';
import type { DeviceEntry, NetworkEntry } from './address-map.js';
import { optionalSite } from './site.js';
import { needProfile, type ChangeBy } from './user-admin.js';

/** Only the record's fields: the CLI passes its whole options object. */
const who = (c: ChangeBy) => ({ reason: c.reason, by: c.by });

export type Sourced<T> = T & { source: 'config' | 'cli' };

/** The config file's networks, then those added with `networks add` (source "cli"). */
export async function listNetworks(config: ReadonlyConfig): Promise<Sourced<NetworkEntry>[]> {
  const added = await withState(config.dataDir, (s) => s.addresses.networks());
  return [
    ...config.identity.networks.map((n) => ({ ...n, source: 'config' as const })),
    ...added.map((n) => ({ ...n, source: 'cli' as const })),
  ];
}

/** The config file's devices, then those added with `devices add` (source "cli"). */
export async function listDevices(config: ReadonlyConfig): Promise<Sourced<DeviceEntry>[]> {
  const added = await withState(config.dataDir, (s) => s.addresses.devices());
  return [
    ...config.identity.devices.map((d) => ({ ...d, source: 'config' as const })),
    ...added.map((d) => ({ ...d, source: 'cli' as const })),
  ];
}

const taken = (what: string, key: string, command: string) =>
  new SchoolgateError('SG_NETWORK_INVALID', `${what} ${key} is already mapped`, {
    suggestion: `remove it first with \`schoolgate ${command} remove ${key}\``,
  });

export async function addNetwork(
  config: ReadonlyConfig,
  input: { cidr: string; profile: string; name?: string | undefined; site?: string | undefined },
  change: ChangeBy,
): Promise<NetworkEntry> {
  const cidr = canonicalCidr(input.cidr);
  needProfile(config, input.profile);
  const site = optionalSite(input.site);
  const entry: NetworkEntry = {
    cidr,
    profile: input.profile,
    ...(input.name ? { name: input.name } : {}),
    ...(site ? { site } : {}),
  };
  await withState(config.dataDir, (s) =>
    s.transaction(() => {
      if (s.addresses.network(cidr) || config.identity.networks.some((n) => n.cidr === cidr))
        throw taken('network', cidr, 'networks');
      s.addresses.addNetwork(entry);
      s.changes.record({ action: 'networks.add', target: `network ${cidr}`, after: entry, ...who(change) });
    }),
  );
  return entry;
}

export async function removeNetwork(
  config: ReadonlyConfig,
  cidrInput: string,
  change: ChangeBy,
): Promise<NetworkEntry> {
  const cidr = canonicalCidr(cidrInput);
  return withState(config.dataDir, (s) =>
    s.transaction(() => {
      const before = s.addresses.network(cidr);
      if (!before)
        throw new SchoolgateError('SG_NETWORK_INVALID', `network ${cidr} is not in the networks table`, {
          suggestion: config.identity.networks.some((n) => n.cidr === cidr)
            ? 'it is in the config file: edit identity.networks there'
            : 'see `schoolgate networks list`',
        });
      s.addresses.removeNetwork(cidr);
      s.changes.record({ action: 'networks.remove', target: `network ${cidr}`, before, ...who(change) });
      return before;
    }),
  );
}

export async function addDevice(
  config: ReadonlyConfig,
  input: {
    address: string;
    name: string;
    user?: string | undefined;
    profile?: string | undefined;
    site?: string | undefined;
  },
  change: ChangeBy,
): Promise<DeviceEntry> {
  const address = canonicalIp(input.address);
  if (input.profile) needProfile(config, input.profile);
  const site = optionalSite(input.site);
  const entry: DeviceEntry = {
    address,
    name: input.name,
    ...(input.user ? { user: input.user } : {}),
    ...(input.profile ? { profile: input.profile } : {}),
    ...(site ? { site } : {}),
  };
  await withState(config.dataDir, (s) =>
    s.transaction(() => {
      if (input.user) s.users.require(input.user);
      if (s.addresses.device(address) || config.identity.devices.some((d) => d.address === address))
        throw taken('device', address, 'devices');
      s.addresses.addDevice(entry);
      s.changes.record({ action: 'devices.add', target: `device ${address}`, after: entry, ...who(change) });
    }),
  );
  return entry;
}

export async function removeDevice(
  config: ReadonlyConfig,
  addressInput: string,
  change: ChangeBy,
): Promise<DeviceEntry> {
  const address = canonicalIp(addressInput);
  return withState(config.dataDir, (s) =>
    s.transaction(() => {
      const before = s.addresses.device(address);
      if (!before)
        throw new SchoolgateError('SG_NETWORK_INVALID', `device ${address} is not in the devices table`, {
          suggestion: 'see `schoolgate devices list`',
        });
      s.addresses.removeDevice(address);
      s.changes.record({ action: 'devices.remove', target: `device ${address}`, before, ...who(change) });
      return before;
    }),
  );
}
