/**
 * Whether a URL `host` + `path` may contain one of a set of literals (lower-case ASCII, compared
 * case-insensitively), without joining the two (a joined string is flattened again by every RegExp call,
 * which costs more than the search). An occurrence lies in the host, in the path, or across the two; a
 * canonical host holds only `[a-z0-9_.-]` (any other character in it answers yes) and the path starts with
 * `/`, so an occurrence across them splits at the literal's first `/`: the host ends with what is before
 * it, the path starts with the rest. A non-ASCII character answers yes: case-insensitive RE2 folds `K`
 * (Kelvin sign) with `k` and `ſ` with `s`, and an ASCII comparison does not.
 */
export class UrlLiteralFinder {
  /** The literals a host can hold (only host characters: `google.`), and the path's: all of them. */
  private readonly inHost: RegExp;
  private readonly inPath: RegExp;
  /** [end of the host, start of the path] for each literal with a `/` after its first character. */
  private readonly across: [string, string][] = [];

  constructor(literals: readonly string[]) {
    if (literals.some((l) => l === '' || !/^[\x20-\x7e]+$/.test(l)))
      throw new Error('literals must be non-empty printable ASCII');
    // Any other character in a host (none in a canonical one) answers yes, so that `/` and the rest never pass.
    this.inHost = finder(
      literals.filter((l) => /^[a-z0-9_.-]+$/i.test(l)),
      '[^a-z0-9_.-]',
    );
    this.inPath = finder(literals, '[^\\x00-\\x7f]');
    for (const literal of literals) {
      const slash = literal.indexOf('/');
      if (slash > 0)
        this.across.push([literal.slice(0, slash).toLowerCase(), literal.slice(slash).toLowerCase()]);
    }
  }

  /** `host` as decide() has it (a canonical name or IPv4 address: `[a-z0-9_.-]`), `path` starting with `/`. */
  mayContain(host: string, path: string): boolean {
    if (this.inHost.test(host) || this.inPath.test(path)) return true;
    for (const [end, start] of this.across)
      if (endsWithFolded(host, end) && startsWithFolded(path, start)) return true;
    return false;
  }
}

/** A case-insensitive RegExp for any of `literals` or a character of `odd` (a class). */
function finder(literals: readonly string[], odd: string): RegExp {
  return new RegExp([...literals.map(escapeRegExp), odd].join('|'), 'i');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function endsWithFolded(text: string, suffix: string): boolean {
  return text.length >= suffix.length && equalsFoldedAt(text, text.length - suffix.length, suffix);
}

function startsWithFolded(text: string, prefix: string): boolean {
  return text.length >= prefix.length && equalsFoldedAt(text, 0, prefix);
}

/** Whether `lower` (lower-case ASCII) is at `at` in `text`, ASCII letters compared case-insensitively. */
function equalsFoldedAt(text: string, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    let c = text.charCodeAt(at + i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}
