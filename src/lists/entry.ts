/**
 * A list entry as the technician types it on the command line, validated and normalised with the policy
 * core's own parser (src/policy/entries.ts), so what the CLI accepts is exactly what the proxy matches.
 * The CLI is stricter than list files in three ways a technician should hear about: no scheme (an entry
 * covers http and https alike), no spaces, and no wildcard other than a leading `*.`.
 */
import { SchoolgateError } from '../errors.js';
import { parseDomainLine, parseEntry, parseUrlLine, type ParsedEntry } from '../policy/entries.js';

export type EntryKind = 'domain' | 'url';

/** A valid entry: `text` is the normalised line written to a file; `key` identifies it across layers. */
export interface ListEntry {
  kind: EntryKind;
  text: string;
  key: string;
}

/** The normalised entry of a parsed line, or undefined for blank/comment/invalid lines. */
export function entryOf(parsed: ParsedEntry): ListEntry | undefined {
  switch (parsed.kind) {
    case 'domain':
    case 'ip':
      return { kind: 'domain', text: parsed.host, key: `d ${parsed.host}` };
    case 'url': {
      const text = `${parsed.host}${parsed.path}`;
      return { kind: 'url', text, key: `u ${parsed.host}${parsed.path.toLowerCase()}` };
    }
    default:
      return undefined;
  }
}

/** Key of a line of a `domains` file (undefined when blank, comment or invalid). */
export function domainLineKey(line: string): string | undefined {
  return entryOf(parseDomainLine(line))?.key;
}

/** Key of a line of a `urls` file. */
export function urlLineKey(line: string): string | undefined {
  return entryOf(parseUrlLine(line))?.key;
}

/** Key of a line of a `removed` file (either kind: a `/` makes it a URL entry). */
export function anyLineKey(line: string): string | undefined {
  return entryOf(parseEntry(line))?.key;
}

/** The policy core's stable reason codes (target-error.ts), in words for a person. */
const REASONS: Record<string, string> = {
  empty: 'the host is empty',
  'empty-label': 'the host has an empty label (two dots in a row, or a dot at the start)',
  'bad-host': 'the host has characters a host name cannot have',
  'bad-idn': 'the host is not a valid internationalised domain name',
  'bad-ip': 'the host is not a valid IP address',
  'bad-percent': 'the host has a malformed percent-escape',
  'too-long': 'the host or one of its labels is too long',
  'public-suffix':
    'it is a top-level domain or public suffix (com, co.uk): it would cover every site under it',
  'bad-regex': 'the regular expression does not compile (RE2 syntax: no backreferences or look-around)',
  'regex-too-long': 'the regular expression is longer than 1024 characters',
  'too-many-expressions': 'more than 200 regex rules in all; the rest are not loaded',
  'address-range':
    'it is an address range (CIDR); list entries match single addresses, so it would never match',
};

/** A parser reason code (or a reason already in words) for a person. */
export function reasonInWords(reason: string): string {
  return REASONS[reason] ?? reason;
}

/** Validates one command-line entry; throws SG_ENTRY_INVALID saying why. */
export function parseCliEntry(input: string): ListEntry {
  const text = input.trim();
  const fail = (why: string, suggestion: string): never => {
    throw new SchoolgateError('SG_ENTRY_INVALID', `"${input}" is not a list entry: ${why}`, {
      context: { entry: input },
      suggestion,
    });
  };
  if (text === '') fail('it is empty', 'write a domain such as example.com');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
    fail(
      'it has a scheme (http://, https://); an entry covers http and https alike',
      `write it without the scheme: ${text.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')}`,
    );
  if (/\s/.test(text)) fail('it contains a space', 'give one entry per argument, without spaces');
  if (text.startsWith('#')) fail('it starts with #, which marks a comment', 'remove the #');
  if (/\*/.test(text.replace(/^\*\./, '')))
    fail(
      'wildcards are not supported except a leading "*." (which means the domain and its subdomains)',
      'a domain entry already covers every subdomain: write example.com for *.example.com',
    );
  const read = parseEntry(text);
  // A list file may cover a sector suffix on purpose (`nhs.uk`); a command line never writes one.
  const parsed: ParsedEntry =
    (read.kind === 'domain' || read.kind === 'url') && read.suffix
      ? { kind: 'invalid', reason: 'public-suffix' }
      : read;
  if (parsed.kind === 'invalid')
    fail(
      reasonInWords(parsed.reason),
      parsed.reason === 'public-suffix'
        ? 'name the sites themselves (example.co.uk), never the suffix they share'
        : parsed.reason === 'address-range'
          ? 'list the addresses one by one (10.0.0.5), or block the sites by name'
          : 'write a domain (example.com), an IP address or example.com/path',
    );
  const entry = entryOf(parsed);
  if (!entry)
    return fail('it is not a domain, IP address or URL prefix', 'write example.com or example.com/path');
  return entry;
}
