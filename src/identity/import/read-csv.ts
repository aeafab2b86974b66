/**
 * Reads a CSV export into rows with their line numbers, using csv-parse (RFC 4180: quoted fields, doubled
 * quotes, commas and newlines inside quotes, a UTF-8 BOM) — one reading for every format. Blank lines and
 * lines starting with `#` are skipped; fields are trimmed. A malformed file is SG_CSV_INVALID naming the line.
 */
import { CsvError, parse } from 'csv-parse/sync';
import { SchoolgateError } from '../../errors.js';

export interface CsvRow {
  /** The line the record ends on (1-based), for messages. */
  line: number;
  fields: string[];
}

export function readCsv(text: string, file: string): CsvRow[] {
  try {
    const records = parse(text, {
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      comment: '#',
      comment_no_infix: true,
      info: true,
      trim: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
    return records.map((r) => ({ line: r.info.lines, fields: r.record }));
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    const line = (err as CsvError & { lines?: number }).lines;
    const why = err.code === 'CSV_QUOTE_NOT_CLOSED' ? 'unbalanced quotes' : err.message;
    throw new SchoolgateError('SG_CSV_INVALID', `${file}:${line ?? '?'}: ${why}; nothing was changed`, {
      context: { file, line, code: err.code },
      suggestion: 'save the export again as CSV (comma-separated, UTF-8)',
    });
  }
}
