/**
 * Search terms of requests to the search endpoints of the endpoint table (endpoints.ts: Google, Bing,
 * DuckDuckGo, Yahoo, YouTube, and whatever a school adds), from the query and, for endpoints that take
 * forms, a POST body. The term goes into the audit row's own column, for investigators' reports and
 * safeguarding alerts. The endpoint is found on the canonical target (every spelling of `/search` is one).
 */
import { paramValues, type EndpointTable } from './endpoints.js';
import type { Target } from './types.js';

export interface SearchTerm {
  /** The endpoint's name in the table, e.g. 'google'. */
  engine: string;
  term: string;
}

const MAX_TERM = 500;
// eslint-disable-next-line no-control-regex -- control characters never belong in a stored term
const CONTROL = /[\u0000-\u001f\u007f]/g;

/**
 * The search term of a request, or null when it is not a search. Every distinct value of the term's
 * parameters is kept (`q=maths&q=<something else>`: which one an engine takes is its business, an
 * investigator sees both), joined with ' | '.
 */
export function extractSearchTerm(
  endpoints: EndpointTable,
  target: Pick<Target, 'host' | 'path'>,
  form?: URLSearchParams,
): SearchTerm | null {
  const match = endpoints.match(target);
  if (!match || match.spec.kind !== 'search') return null;
  const values = paramValues(target.path, match.spec.forms ? form : undefined, match.spec.params)
    .map((v) => v.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim())
    .filter((v) => v !== '');
  if (values.length === 0) return null;
  const term = [...new Set(values)].join(' | ');
  return { engine: match.spec.name, term: term.slice(0, MAX_TERM) };
}
