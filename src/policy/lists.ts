import { SchoolgateError } from '../errors.js';
import { parseDomainLine, parseEntry, parseUrlLine, type ParsedEntry } from './entries.js';
import { ListIndex, type ListIndexImage } from './list-index.js';
import { ExpressionRules, parseExpressionLine } from './url-regex.js';
import type { EndpointTable } from './endpoints.js';
import type { CategoryLists, CategoryMeta, ListMatch, Profile, Target } from './types.js';

/** What one line did to the lists: counted by importers so invalid lines are reported, never dropped silently. */
export type LineOutcome = 'added' | 'skipped' | { invalid: string };

/** A builder's content as plain data, for the thread that serves (src/lists/lists-worker.ts). */
export interface CategoryListsImage {
  index: ListIndexImage;
  expressions: { list: string; source: string }[];
  meta: CategoryMeta[];
}

/**
 * Builds a CategoryLists one line at a time, so the loader can stream a multi-million-line file without
 * first holding it as an array. build() freezes the result; the builder must not be used afterwards.
 */
export class CategoryListsBuilder {
  private readonly index: ListIndex;
  private readonly expressions = new ExpressionRules();
  private readonly meta = new Map<string, CategoryMeta>();
  private built = false;

  /** Empty, or holding what another thread's builder gave as image() (its arrays adopted, not copied). */
  constructor(image?: Omit<CategoryListsImage, 'expressions'>) {
    this.index = new ListIndex(image?.index);
    for (const meta of image?.meta ?? []) this.addCategory(meta);
  }

  /**
   * What another thread's builder gave as image(), its regex rules compiled again here one per event-loop
   * turn (a long rule takes tens of ms: requests are answered in between).
   */
  static async adopt(image: CategoryListsImage): Promise<CategoryListsBuilder> {
    const builder = new CategoryListsBuilder(image);
    for (const { list, source } of image.expressions) {
      await new Promise(setImmediate);
      const parsed = parseExpressionLine(source);
      // Compiled once already on the other thread: a rule that does not compile here is a broken image.
      if (parsed.kind !== 'regex') throw new Error(`expression ${JSON.stringify(source)} does not compile`);
      builder.expressions.add(list, parsed);
    }
    return builder;
  }

  /** The content as data, to post to another thread with buffers(); the builder is closed afterwards. */
  image(): CategoryListsImage {
    this.assertOpen();
    this.built = true;
    return {
      index: this.index.image(),
      expressions: this.expressions.sources(),
      meta: [...this.meta.values()],
    };
  }

  addCategory(meta: CategoryMeta): void {
    this.assertOpen();
    if (this.meta.has(meta.name)) throw new Error(`category ${meta.name} was added twice`);
    this.meta.set(meta.name, Object.freeze({ ...meta }));
  }

  addDomainLine(category: string, line: string): LineOutcome {
    return this.add(category, parseDomainLine(line));
  }

  addUrlLine(category: string, line: string): LineOutcome {
    return this.add(category, parseUrlLine(line));
  }

  /** A line of an `expressions` file: a URL regex rule (url-regex.ts), bounded in length and number. */
  addExpressionLine(category: string, line: string): LineOutcome {
    this.assertOpen();
    if (!this.meta.has(category))
      throw new Error(`category ${category} has no metadata; call addCategory first`);
    const parsed = parseExpressionLine(line);
    if (parsed.kind === 'skip') return 'skipped';
    if (parsed.kind === 'invalid') return { invalid: parsed.reason };
    return this.expressions.add(category, parsed) === 'added' ? 'added' : { invalid: 'too-many-expressions' };
  }

  /** The endpoint table is required: lists without it would quietly stop deciding translators and archives. */
  build(endpoints: EndpointTable): CategoryLists {
    this.assertOpen();
    this.built = true;
    const index = this.index;
    const expressions = this.expressions;
    index.compact();
    const categories: ReadonlyMap<string, CategoryMeta> = this.meta;
    return Object.freeze({
      categories,
      endpoints,
      match:
        expressions.size === 0
          ? (target: Target): ListMatch[] => index.match(target)
          : (target: Target): ListMatch[] => {
              const listed = index.match(target);
              const regex = expressions.match(target);
              if (regex.length === 0) return listed;
              for (const m of regex) listed.push(m);
              return listed;
            },
    });
  }

  private add(category: string, parsed: ParsedEntry): LineOutcome {
    this.assertOpen();
    if (!this.meta.has(category))
      throw new Error(`category ${category} has no metadata; call addCategory first`);
    return addParsed(this.index, category, parsed);
  }

  private assertOpen(): void {
    if (this.built) throw new Error('CategoryListsBuilder.build() was already called');
  }
}

/** One parsed line into an index (categories, profile entries, the illegal-content tier). */
export function addParsed(index: ListIndex, list: string, parsed: ParsedEntry): LineOutcome {
  switch (parsed.kind) {
    case 'skip':
      return 'skipped';
    case 'invalid':
      return { invalid: parsed.reason };
    case 'domain':
      if (parsed.exact) index.addExactHost(parsed.host, list);
      else index.addDomain(parsed.host, list);
      return 'added';
    case 'ip':
      index.addIp(parsed.host, list);
      return 'added';
    case 'url':
      index.addUrl(parsed.host, parsed.path, list, parsed.hostKind !== 'domain');
      return 'added';
  }
}

export interface CompileListsInput {
  meta: CategoryMeta[];
  /** category → lines of its `domains` file */
  domains: Map<string, string[]>;
  /** category → lines of its `urls` file */
  urls: Map<string, string[]>;
  endpoints: EndpointTable;
}

/**
 * Compiles in-memory lists (tests, small fixtures). Invalid lines are an error here: callers that want to
 * count and report them line by line use CategoryListsBuilder, as src/lists/load.ts does.
 */
export function compileLists(input: CompileListsInput): CategoryLists {
  const builder = new CategoryListsBuilder();
  for (const meta of input.meta) builder.addCategory(meta);
  const known = new Set(input.meta.map((m) => m.name));
  const feed = (kind: 'domains' | 'urls', lines: Map<string, string[]>): void => {
    for (const [category, entries] of lines) {
      if (!known.has(category)) {
        throw new SchoolgateError(
          'SG_CATEGORY_INVALID',
          `Category ${category} has ${kind} but no metadata.`,
          {
            context: { category },
            suggestion: `Add ${category} to categories.yaml or remove its list.`,
          },
        );
      }
      entries.forEach((line, i) => {
        const outcome =
          kind === 'domains' ? builder.addDomainLine(category, line) : builder.addUrlLine(category, line);
        if (typeof outcome === 'object') throw invalidEntry(category, kind, line, i + 1, outcome.invalid);
      });
    }
  };
  feed('domains', input.domains);
  feed('urls', input.urls);
  return builder.build(input.endpoints);
}

/** A profile's explicit allow or deny entries, compiled with the same matching semantics as categories. */
export interface EntryList {
  readonly name: string;
  match(target: Target): ListMatch[];
}

/**
 * Compiles explicit entries (`facebook.com`, `youtube.com/watch?v=abc`, `10.0.0.5`). An invalid entry is a
 * configuration error: the config loader should call this at load time so it is reported before serving.
 */
export function compileEntryList(name: string, entries: readonly string[]): EntryList {
  const index = new ListIndex();
  entries.forEach((entry, i) => {
    const outcome = addParsed(index, name, parseEntry(entry));
    if (typeof outcome === 'object') {
      throw new SchoolgateError(
        'SG_CONFIG_INVALID',
        `Entry ${JSON.stringify(entry)} of ${name} is invalid: ${outcome.invalid}.`,
        {
          context: { list: name, entry, index: i },
          suggestion:
            'Write a domain (example.com), an IP address, or a URL prefix without scheme (example.com/path).',
        },
      );
    }
  });
  index.compact();
  return Object.freeze({ name, match: (target: Target): ListMatch[] => index.match(target) });
}

export interface ProfileEntryLists {
  allow: EntryList;
  deny: EntryList;
}

// Profiles are frozen configuration objects: compile their lists once per object, and let a reloaded
// configuration (new objects) compile afresh while the old ones are collected.
const profileLists = new WeakMap<Profile, ProfileEntryLists>();

export function profileEntryLists(profile: Profile): ProfileEntryLists {
  let lists = profileLists.get(profile);
  if (lists === undefined) {
    lists = {
      allow: compileEntryList(`profile:${profile.name}:allow`, profile.allow),
      deny: compileEntryList(`profile:${profile.name}:deny`, profile.deny),
    };
    profileLists.set(profile, lists);
  }
  return lists;
}

function invalidEntry(
  category: string,
  kind: string,
  line: string,
  lineNo: number,
  reason: string,
): SchoolgateError {
  return new SchoolgateError(
    'SG_CATEGORY_INVALID',
    `Line ${lineNo} of ${category}/${kind} is invalid (${reason}): ${JSON.stringify(line)}.`,
    {
      context: { category, file: `${category}/${kind}`, line: lineNo, reason },
      suggestion:
        'Fix or remove the line; domains files hold one domain per line, urls files host/path prefixes.',
    },
  );
}
