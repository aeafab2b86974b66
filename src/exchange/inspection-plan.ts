/**
 * Intercept or tunnel, decided before any handshake on the CONNECT host and the SNI name (STYLE §2.4):
 * inspect only when TLS inspection is on, the profile inspects, and none of the names is exempt by
 * category (banking, health: the config's and the profile's never-inspect lists) or by host (pinned apps).
 */
import type { ReadonlyConfig } from '../config/load.js';
import type { Profile } from '../policy/types.js';

/** The plan of a tunnel that should be inspected when the school CA cannot be used. */
export const CA_UNUSABLE = 'ca-unusable';

export type InspectionPlan = { inspect: true } | { inspect: false; why: string };

export interface NamedHost {
  host: string;
  categories: readonly string[];
}

export function inspectionPlan(
  config: ReadonlyConfig,
  tlsReady: boolean,
  profile: Profile | undefined,
  hosts: readonly NamedHost[],
): InspectionPlan {
  if (!config.tls.inspect) return { inspect: false, why: 'tls-off' };
  if (!profile?.inspect) return { inspect: false, why: 'profile' };
  const categories = new Set([...config.tls.neverInspect.categories, ...(profile.neverInspect ?? [])]);
  for (const { host, categories: matched } of hosts) {
    const category = matched.find((c) => categories.has(c));
    if (category !== undefined) return { inspect: false, why: `never-inspect:category:${category}` };
    const entry = config.tls.neverInspect.hosts.find((e) => {
      const name = e.toLowerCase().replace(/^\*?\./, '');
      return host === name || host.endsWith(`.${name}`);
    });
    if (entry !== undefined) return { inspect: false, why: `never-inspect:host:${entry}` };
  }
  // Inspection is wanted but the school CA cannot sign (expired, missing): fail closed, never a raw tunnel.
  if (!tlsReady) return { inspect: false, why: CA_UNUSABLE };
  return { inspect: true };
}
