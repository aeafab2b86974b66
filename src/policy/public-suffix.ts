import { getDomain } from 'tldts';

/**
 * Whether `host` (already normalised: lowercase ASCII, no trailing dot) is a public suffix, so no one
 * registrant owns what lies under it:
 * - 'icann': a bare TLD or any single label (`com`, `is`, `line`, `intranet`: unknown TLDs count, by the
 *   list's implicit `*` rule) or an ICANN suffix (`co.uk`, `nhs.uk`). As a list entry it would cover every
 *   site beneath it (the garbage hosts line `this line is garbage` once made `is` block every `.is` site):
 *   list parsers refuse a single label, imports refuse any (entries.ts).
 * - 'private': a suffix of the list's private section (`github.io`, `blogspot.com`, `dyndns.org`,
 *   `eth.link`). These are also hosts of their own, often the very ones a list means (`eth.link` is a DoH
 *   server in DoH lists, `dyndns.org` the provider's site), so such an entry is kept for the host itself
 *   and never covers the sites of other people beneath it.
 * - 'none': a registrable name or below it.
 *
 * tldts embeds the Public Suffix List in its package (no download at run time, no file to go stale
 * between releases) and answers in about a microsecond, which matters for list files of millions of lines.
 */
export type SuffixKind = 'none' | 'icann' | 'private';

const WITH_PRIVATE = {
  allowPrivateDomains: true,
  extractHostname: false,
  validateHostname: false,
  detectIp: false,
  mixedInputs: false,
} as const;
const ICANN_ONLY = { ...WITH_PRIVATE, allowPrivateDomains: false } as const;

export function suffixKind(host: string): SuffixKind {
  if (getDomain(host, WITH_PRIVATE) !== null) return 'none';
  return getDomain(host, ICANN_ONLY) === null ? 'icann' : 'private';
}
