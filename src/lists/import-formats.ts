/**
 * One line of an import source, read strictly in its format (pure; import.ts streams the files):
 *   squidguard  a domains or urls line of a squidGuard/UT1 category (the loader's own parser)
 *   hosts       an address, then one or more names: `0.0.0.0 ads.example tracker.example`. A line that does
 *               not start with an address is invalid as a whole (`this line is garbage` adds nothing)
 *   plain       one entry a line: a domain of two labels or more, an IP address, or a host/path prefix
 *   adblock     the network rules that mean "every request to this host (or URL prefix)": `||host^`,
 *               `||host`, `||host/path`, with no option or only `$important`, `$all`, `$document`/`$doc`.
 *               Everything else is skipped and counted by reason: exception rules (`@@`), cosmetic rules
 *               (`##`), regex and wildcard rules, address-anchored and substring rules, and rules whose
 *               options narrow them to some requests (`$third-party`, `$script`, `$domain=`...), which a
 *               host entry would widen to every request, first-party visits included.
 * Every entry then goes through the policy core's parser, which refuses TLDs and public suffixes
 * (`com`, `co.uk`, `github.io`) and address ranges (src/policy/entries.ts).
 *
 * lineShape() says which format a line looks like, so a source read in the wrong format is refused
 * (import.ts) instead of reporting "0 added".
 */
import ipaddr from 'ipaddr.js';
import { parseDomainLine, parseEntry, parseUrlLine, type ParsedEntry } from '../policy/entries.js';
import { reasonInWords } from './entry.js';

export const IMPORT_FORMATS = ['squidguard', 'hosts', 'plain', 'adblock'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** An entry, an invalid entry, or a line that holds no entry, with why. */
export type Candidate =
  Exclude<ParsedEntry, { kind: 'skip' }> | { kind: 'skip'; reason: SkipReason; detail?: string };

export type SkipReason =
  | 'blank'
  | 'comment'
  | 'hosts-local-name'
  | 'adblock-header'
  | 'adblock-exception'
  | 'adblock-cosmetic'
  | 'adblock-regex'
  | 'adblock-wildcard'
  | 'adblock-option'
  | 'adblock-address-anchor'
  | 'adblock-not-host-rule';

/** Blank lines and comments are counted but never shown as examples: they are what files are made of. */
export const QUIET_SKIPS: ReadonlySet<string> = new Set(['blank', 'comment', 'adblock-header']);

const WORDS: Record<string, string> = {
  blank: 'blank line',
  comment: 'comment',
  'hosts-local-name': 'a name of this machine (localhost, broadcasthost, ...)',
  'adblock-header': 'adblock list header',
  'adblock-exception': 'exception rule (@@): an allow rule, not imported into a block category',
  'adblock-cosmetic': 'cosmetic rule (##): hides page elements, nothing a proxy can block',
  'adblock-regex': 'regex rule (/.../)',
  'adblock-wildcard': 'wildcard rule (*): matches more than one host or path',
  'adblock-option': 'an option narrows the rule to some requests; a host entry would block them all',
  'adblock-address-anchor': 'address-anchored rule (|...): not a host rule',
  'adblock-not-host-rule': 'substring rule: not anchored to a host (||)',
  'hosts-no-address': 'a hosts line starts with an address (0.0.0.0 name); this one does not',
  'hosts-no-name': 'a hosts line has an address and no name',
  'plain-several-words': 'a plain line holds one entry; this one has several words',
};

/** A skip or invalid reason code for a person. */
export function importReasonInWords(reason: string): string {
  return WORDS[reason] ?? reasonInWords(reason);
}

const SKIP = (reason: SkipReason, detail?: string): Candidate =>
  detail === undefined ? { kind: 'skip', reason } : { kind: 'skip', reason, detail };
const INVALID = (reason: string): Candidate => ({ kind: 'invalid', reason });

/** One line of a source → the entries it holds (a hosts line can hold several names). */
export function parseImportLine(format: ImportFormat, kind: 'domains' | 'urls', line: string): Candidate[] {
  switch (format) {
    case 'squidguard': {
      const text = line.trim();
      if (text === '') return [SKIP('blank')];
      if (text.startsWith('#')) return [SKIP('comment')];
      return [fromParsed(kind === 'urls' ? parseUrlLine(text) : parseDomainLine(text))];
    }
    case 'plain':
      return [plainLine(line)];
    case 'hosts':
      return hostsLine(line);
    case 'adblock':
      return [adblockLine(line)];
  }
}

/** Imports never write an entry covering a public suffix, even one a list file may hold (`nhs.uk`). */
function fromParsed(p: ParsedEntry): Candidate {
  if (p.kind === 'skip') return SKIP('comment');
  if ((p.kind === 'domain' || p.kind === 'url') && p.suffix) return INVALID('public-suffix');
  return p;
}

function plainLine(line: string): Candidate {
  const trimmed = line.trim();
  if (trimmed === '') return SKIP('blank');
  const text = trimmed.replace(/(^|\s)#.*$/, '').trim();
  if (text === '') return SKIP('comment');
  if (/\s/.test(text)) return INVALID('plain-several-words');
  return fromParsed(parseEntry(text));
}

const LOCAL_NAMES = new Set([
  'localhost',
  'localhost.localdomain',
  'local',
  'broadcasthost',
  'ip6-localhost',
  'ip6-loopback',
  'ip6-localnet',
  'ip6-mcastprefix',
  'ip6-allnodes',
  'ip6-allrouters',
  'ip6-allhosts',
]);

function hostsLine(line: string): Candidate[] {
  const trimmed = line.trim();
  if (trimmed === '') return [SKIP('blank')];
  const text = trimmed.replace(/#.*$/, '').trim();
  if (text === '') return [SKIP('comment')];
  const [address = '', ...names] = text.split(/\s+/);
  if (!isAddress(address)) return [INVALID('hosts-no-address')];
  if (names.length === 0) return [INVALID('hosts-no-name')];
  return names.map((n) =>
    LOCAL_NAMES.has(n.toLowerCase()) || isAddress(n)
      ? SKIP('hosts-local-name')
      : fromParsed(parseDomainLine(n)),
  );
}

/** A hosts-file address: dotted-quad IPv4 or IPv6 (no shorthand such as `127.1`, which no hosts file uses). */
function isAddress(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text) || ipaddr.IPv6.isValid(text);
}

const MAPPED_OPTIONS = new Set(['important', 'all', 'document', 'doc']);

function adblockLine(line: string): Candidate {
  const text = line.trim();
  if (text === '') return SKIP('blank');
  if (text.startsWith('!')) return SKIP('comment');
  if (text.startsWith('[') && text.endsWith(']')) return SKIP('adblock-header');
  if (/#[@?$%]?#|#@[$%?]#|\$\$/.test(text)) return SKIP('adblock-cosmetic');
  if (text.startsWith('#')) return SKIP('comment');
  if (text.startsWith('@@')) return SKIP('adblock-exception');
  if (/^\/.*\/(\$.*)?$/.test(text)) return SKIP('adblock-regex');
  const dollar = text.lastIndexOf('$');
  const pattern = dollar === -1 ? text : text.slice(0, dollar);
  const options = dollar === -1 ? [] : text.slice(dollar + 1).split(',');
  if (!pattern.startsWith('||'))
    return SKIP(pattern.startsWith('|') ? 'adblock-address-anchor' : 'adblock-not-host-rule');
  const unmapped = options.find((o) => !MAPPED_OPTIONS.has(o.trim().toLowerCase()));
  if (unmapped !== undefined) return SKIP('adblock-option', `$${unmapped}`);
  // `^` is a separator (end of host, `/`, `?`, ...) and a trailing `|` anchors the end: both are what a
  // host or prefix entry already means.
  const body = pattern.slice(2).replace(/\^?\|?$/, '');
  if (body.includes('*')) return SKIP('adblock-wildcard');
  if (body.includes('^') || body.includes('|')) return SKIP('adblock-not-host-rule');
  if (body === '') return SKIP('adblock-not-host-rule');
  return fromParsed(/[/?]/.test(body) ? parseUrlLine(body) : parseDomainLine(body));
}

export type LineShape = 'hosts' | 'adblock' | 'plain' | 'other';

/** Which format a line looks like (undefined: blank or comment in every format). */
export function lineShape(line: string): LineShape | undefined {
  const text = line.trim();
  if (text === '' || text.startsWith('#') || text.startsWith('!')) return undefined;
  if (/^(\|\||@@|\|)/.test(text) || /#[@?$%]?#/.test(text) || /^\[adblock/i.test(text)) return 'adblock';
  const words = text.replace(/\s#.*$/, '').split(/\s+/);
  if (words.length >= 2 && isAddress(words[0]!)) return 'hosts';
  if (words.length === 1 && !/[$^*|]/.test(text)) return 'plain';
  return 'other';
}

/** The shape a line of each format has. squidGuard files hold plain lines. */
export const FORMAT_SHAPE: Record<ImportFormat, LineShape> = {
  squidguard: 'plain',
  plain: 'plain',
  hosts: 'hosts',
  adblock: 'adblock',
};

/** The format that reads lines of a shape (for the message that names the right --format). */
export const SHAPE_FORMAT: Record<Exclude<LineShape, 'other'>, ImportFormat> = {
  plain: 'plain',
  hosts: 'hosts',
  adblock: 'adblock',
};
