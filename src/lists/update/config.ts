/**
 * `lists.sources`: the public lists `schoolgate lists update` fetches into the provider layer. Default: the
 * UT1 blacklists (Université Toulouse 1 Capitole, CC BY-SA 4.0), one tarball over HTTPS checked against the
 * MD5SUM.LST file UT1 publishes beside it, with its folders mapped onto the shipped categories.
 */
import { z } from 'zod';

const httpsUrl = z
  .string()
  .url()
  .refine((u) => u.startsWith('https://'), 'expected an https:// URL: lists are never fetched in clear');

/**
 * UT1 folder → shipped category, as categories/README.md advises. Left out on purpose: `agressif` (it mixes
 * hate, violence and research sites, and extremism raises DSL alerts: review it and map it yourself),
 * `mixed_adult` (general sites with an adult corner), the allow (white) lists, and everything with no
 * shipped category to go into.
 */
export const UT1_MAP: Readonly<Record<string, string>> = {
  adult: 'adult',
  'audio-video': 'streaming',
  radio: 'streaming',
  chat: 'chat',
  social_networks: 'social',
  webmail: 'webmail',
  gambling: 'gambling',
  games: 'games',
  dating: 'dating',
  warez: 'p2p',
  vpn: 'anonymisers',
  redirector: 'anonymisers',
  'residential-proxies': 'anonymisers',
  doh: 'doh',
  malware: 'malware',
  phishing: 'malware',
  cryptojacking: 'malware',
  stalkerware: 'malware',
  shopping: 'shopping',
};

export const listSourceSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'expected a short lower-case name (letters, digits, - and _)')
    .describe('A short name for the source, shown in what `lists update` prints and records.'),
  url: httpsUrl.describe('The tarball (.tar.gz) of a UT1/squidGuard category tree, over HTTPS.'),
  checksumUrl: httpsUrl.describe(
    'The checksum file published beside it (md5sum/sha256sum format: "HEX  file-name"); the line for the ' +
      "tarball's file name is used. MD5, SHA-256 and SHA-512 are recognised by their length.",
  ),
  root: z
    .string()
    .nullable()
    .default(null)
    .describe(
      'The folder inside the tarball that holds the category folders (UT1: blacklists); null: the one ' +
        'top-level folder of the tarball.',
    ),
  map: z
    .record(z.string(), z.string())
    .describe(
      "Source folder → category it fills (an existing category, shipped or the school's own). Folders " +
        'not named are not imported; several folders may fill one category.',
    ),
  ca: z
    .string()
    .nullable()
    .default(null)
    .describe(
      'A PEM file of certificate authorities trusted for this source besides the system ones ' +
        '(a school mirror behind its own CA).',
    ),
  maxDownloadMB: z
    .number()
    .positive()
    .default(512)
    .describe('A bigger download is refused (the UT1 tarball is well under this).'),
  maxUnpackedMB: z
    .number()
    .positive()
    .default(2048)
    .describe('A tarball whose files add up to more than this is refused before anything is unpacked.'),
});

export type ListSource = z.infer<typeof listSourceSchema>;

export const UT1_SOURCE: z.input<typeof listSourceSchema> = {
  name: 'ut1',
  url: 'https://dsi.ut-capitole.fr/blacklists/download/blacklists.tar.gz',
  checksumUrl: 'https://dsi.ut-capitole.fr/blacklists/download/MD5SUM.LST',
  root: 'blacklists',
  map: { ...UT1_MAP },
};
