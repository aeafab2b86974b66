/**
 * How many invalid lines a list file may hold before it is refused whole: the larger of
 * `lists.maxInvalidLines` and `lists.maxInvalidShare` of its entry lines (src/config/schema.ts holds the
 * defaults). A typo or two loads, with a warning; a file that is mostly not entries (an error page, the
 * wrong format, a corrupted copy) is refused, because loading the few lines that happen to parse would
 * silently open the filter for everything the file used to hold.
 */
import { SchoolgateError } from '../errors.js';

export interface InvalidLineLimit {
  maxInvalidLines: number;
  maxInvalidShare: number;
}

export interface BadLine {
  line: number;
  text: string;
  reason: string;
}

/** Invalid lines allowed in a file of `entryLines` lines that are neither blank nor comments. */
export function invalidAllowed(entryLines: number, limit: InvalidLineLimit): number {
  return Math.max(limit.maxInvalidLines, Math.floor(limit.maxInvalidShare * entryLines));
}

/** SG_LIST_FILE_INVALID when the file has more invalid lines than the limit allows. */
export function checkInvalidLines(
  file: string,
  found: { entryLines: number; invalid: number; first: readonly BadLine[] },
  limit: InvalidLineLimit,
  suggestion: string,
): void {
  const allowed = invalidAllowed(found.entryLines, limit);
  if (found.invalid <= allowed) return;
  const shown = found.first.map((b) => `line ${b.line} ${JSON.stringify(b.text)} (${b.reason})`).join('; ');
  const pct = (limit.maxInvalidShare * 100).toLocaleString('en', { maximumFractionDigits: 2 });
  throw new SchoolgateError(
    'SG_LIST_FILE_INVALID',
    `${file}: ${found.invalid} of ${found.entryLines} entry lines are invalid, more than the ${allowed} allowed ` +
      `(the larger of lists.maxInvalidLines ${limit.maxInvalidLines} and lists.maxInvalidShare ${pct}%): ${shown}`,
    {
      context: {
        file,
        invalid: found.invalid,
        entryLines: found.entryLines,
        allowed,
        badLines: found.first,
      },
      suggestion,
    },
  );
}
