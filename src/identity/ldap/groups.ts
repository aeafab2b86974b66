/**
 * Directory groups → profile. The first configured group (in the order written in the config) that the
 * user is a member of decides; DNs are compared in one canonical form so `CN=Year7, OU=Pupils` in the
 * config matches `cn=Year7,ou=Pupils` from the server.
 */

/** Lower case, no spaces around `,` `=` `+`, and escaped characters kept as written (`\,` stays). */
export function canonicalDn(dn: string): string {
  let out = '';
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]!;
    if (ch === '\\' && i + 1 < dn.length) {
      out += ch + dn[++i]!;
      continue;
    }
    if (ch === ',' || ch === '=' || ch === '+') {
      out = out.trimEnd() + ch;
      while (dn[i + 1] === ' ') i++;
      continue;
    }
    out += ch;
  }
  return out.trim().toLowerCase();
}

export interface GroupMap {
  /** Canonical group DN and its profile, in the config's order. */
  readonly order: readonly { dn: string; configured: string; profile: string }[];
}

export function groupMap(groups: Readonly<Record<string, string>>): GroupMap {
  return {
    order: Object.entries(groups).map(([dn, profile]) => ({ dn: canonicalDn(dn), configured: dn, profile })),
  };
}

/** The profile of the first configured group in `memberOf` (canonical or not), else null. */
export function profileOfGroups(
  map: GroupMap,
  memberOf: readonly string[],
): { group: string; profile: string } | null {
  const member = new Set(memberOf.map(canonicalDn));
  for (const g of map.order) if (member.has(g.dn)) return { group: g.configured, profile: g.profile };
  return null;
}
