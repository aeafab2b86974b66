/**
 * The words in a URL's path and query (or in a search term), for matchKeywords(): `+` read as a space,
 * then percent-decoded (twice at most, for double-encoded links), leniently: a malformed escape stays as
 * it is instead of failing the whole text. Pieces are split on / ? & = # ; so keys, values and path
 * segments become separate words. A scheme and host in front (`https://host/...`) are dropped: the host
 * is the category lists' business, not the keyword lists'.
 */
const SPLIT = /[/?&=#;]+/;
const ESCAPES = /(?:%[0-9a-fA-F]{2})+/g;
const SCHEME_HOST = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

export function searchTextOf(pathOrTerm: string): string {
  const withoutHost = pathOrTerm.replace(SCHEME_HOST, '');
  return withoutHost
    .split(SPLIT)
    .map((piece) => decodeLeniently(decodeLeniently(piece.replace(/\+/g, ' '))))
    .filter((piece) => piece.trim() !== '')
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Decodes each run of %XX escapes that is valid UTF-8; leaves any other run as written. */
function decodeLeniently(s: string): string {
  if (!s.includes('%')) return s;
  return s.replace(ESCAPES, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}
