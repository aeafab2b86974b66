/**
 * The keyword side of the alerts box (issue 9, rules 1(b) and 2): lists of phrases with a severity,
 * matched in search terms and URL paths in a way that survives the usual evasions. Pure except load.ts.
 */
export {
  compileKeywords,
  highestSeverity,
  isSeverity,
  matchKeywords,
  phraseKey,
  SEVERITIES,
  severityRank,
  type KeywordEntry,
  type KeywordIndex,
  type KeywordList,
  type KeywordMatch,
  type MatchStats,
  type Severity,
} from './match.js';
export {
  KEYWORD_ERROR_CODE,
  KEYWORDS_LOCAL_DIR,
  keywordsLocalDir,
  loadKeywordLists,
  parseKeywordLine,
  type KeywordCounts,
  type KeywordLayer,
  type KeywordLineError,
  type LoadedKeywordEntry,
  type LoadedKeywordList,
  type LoadedKeywords,
} from './load.js';
export { normaliseText, tokenise } from './normalise.js';
export { searchTextOf } from './search-text.js';
export { phraseSpans, type Span } from './highlight.js';
