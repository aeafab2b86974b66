/**
 * Setting or clearing the site of a network, device or user made from the CLI (`schoolgate networks site`,
 * `devices site`, `users site`): one change in the admin-changes record each, before and after. The caller
 * reloads the running proxy (it reads networks and devices at a reload; users on their next request).
 */
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError } from '../errors.js';
import { canonicalCidr, canonicalIp } from '../state/addresses.js';
import { withState } from '../state/store.js';
import { checkSiteName } from './site.js';
import { publicUser } from './user-store.js';
import type { ChangeBy } from './user-admin.js';

export type SiteTarget = 'network' | 'device' | 'user';

/** 'none' clears the site; anything else must be a site name. */
export function siteArgument(value: string): string | null {
  return value === 'none' ? null : checkSiteName(value, 'the site');
}

/** Sets the site of one network, device or user (null clears it); returns the site before and after. */
export async function setSite(
  config: ReadonlyConfig,
  target: SiteTarget,
  key: string,
  site: string | null,
  change: ChangeBy,
): Promise<{ key: string; before: string | null; after: string | null }> {
  return withState(config.dataDir, (s) =>
    s.transaction(() => {
      let id: string;
      let before: string | null;
      if (target === 'user') {
        id = key;
        before = s.users.require(key).site;
        s.users.update(key, { site });
      } else if (target === 'network') {
        id = canonicalCidr(key);
        const found = s.addresses.network(id);
        if (!found) throw notInTable('network', id, 'networks');
        before = found.site ?? null;
        s.addresses.setNetworkSite(id, site);
      } else {
        id = canonicalIp(key);
        const found = s.addresses.device(id);
        if (!found) throw notInTable('device', id, 'devices');
        before = found.site ?? null;
        s.addresses.setDeviceSite(id, site);
      }
      const after = target === 'user' ? publicUser(s.users.require(id)) : { site };
      s.changes.record({
        action: `${target}s.site`,
        target: `${target} ${id}`,
        before: { site: before },
        after: target === 'user' ? after : { site },
        reason: change.reason,
        by: change.by,
      });
      return { key: id, before, after: site };
    }),
  );
}

const notInTable = (what: string, key: string, command: string) =>
  new SchoolgateError('SG_NETWORK_INVALID', `${what} ${key} is not in the ${command} table`, {
    suggestion: `see \`schoolgate ${command} list\` (the config file's own take no site)`,
  });
