/**
 * The user exports schools have, read into one shape (a person: user name, display name, group). Each
 * format is data: the headers that identify it, and the columns to take each field from (first present,
 * non-empty one wins). Headers are compared in a canonical form (case, spaces and Google's "[Required]"
 * style notes ignored). The plain `username, display name, profile[, password]` file is read in plain.ts.
 */
import { SchoolgateError } from '../../errors.js';
import type { CsvRow } from './read-csv.js';

export const IMPORT_FORMATS = ['auto', 'plain', 'sims', 'arbor', 'bromcom', 'google', 'm365'] as const;
export type ImportFormat = Exclude<(typeof IMPORT_FORMATS)[number], 'auto'>;
export type ExportFormat = Exclude<ImportFormat, 'plain'>;

export interface Person {
  line: number;
  name: string;
  displayName: string;
  /** The year / registration group / OU / department the profile is chosen by ('' when none). */
  group: string;
  /** Set when the export itself marks the account inactive (suspended, sign-in blocked). */
  inactive?: string;
}

interface FormatSpec {
  /** Any one of these header sets, all present, identifies the format. */
  detect: string[][];
  user: string[];
  /** A single display-name column, tried first. */
  displayName: string[];
  first: string[];
  last: string[];
  group: string[];
  inactive?: { column: string; values: string[]; reason: string };
}

const USER_COLUMNS = ['username', 'user name', 'network username', 'login', 'email', 'email address'];

export const FORMAT_SPECS: Record<ExportFormat, FormatSpec> = {
  // SIMS "Student List" / custom reports.
  sims: {
    detect: [['adno'], ['legal surname'], ['reg group'], ['reg']],
    user: USER_COLUMNS,
    displayName: [],
    first: ['preferred forename', 'legal forename', 'forename'],
    last: ['preferred surname', 'legal surname', 'surname'],
    group: ['year', 'year group', 'reg group', 'reg'],
  },
  // Arbor student / staff exports.
  arbor: {
    detect: [['registration form'], ['arbor id']],
    user: USER_COLUMNS,
    displayName: [],
    first: ['preferred first name', 'first name'],
    last: ['preferred last name', 'last name'],
    group: ['year group', 'year', 'registration form'],
  },
  // Bromcom student exports.
  bromcom: {
    detect: [['tutor group'], ['admission no'], ['forename', 'surname', 'year']],
    user: USER_COLUMNS,
    displayName: [],
    first: ['preferred name', 'forename'],
    last: ['preferred surname', 'surname'],
    group: ['year', 'tutor group'],
  },
  // Google Workspace admin console: Users → Download users (CSV).
  google: {
    detect: [['email address', 'org unit path']],
    user: ['email address'],
    displayName: [],
    first: ['first name'],
    last: ['last name'],
    group: ['org unit path'],
    inactive: { column: 'status', values: ['suspended'], reason: 'suspended in Google Workspace' },
  },
  // Microsoft 365 admin center: Active users → Export users.
  m365: {
    detect: [['user principal name']],
    user: ['user principal name'],
    displayName: ['display name'],
    first: ['first name'],
    last: ['last name'],
    group: ['department', 'office'],
    inactive: { column: 'block credential', values: ['true'], reason: 'sign-in blocked in Microsoft 365' },
  },
};

/** A header as compared: lower case, single spaces, without notes in brackets ("Email Address [Required]"). */
export function canonicalHeader(header: string): string {
  return header
    .replace(/\[[^\]]*\]|\([^)]*\)/g, ' ')
    .replace(/[\s_]+/g, ' ')
    .trim()
    .toLowerCase();
}

/** The format of a file from its header row: an export format, or 'plain' when none matches. */
export function detectFormat(headerRow: readonly string[], file: string): ImportFormat {
  const headers = new Set(headerRow.map(canonicalHeader));
  const matches = (Object.keys(FORMAT_SPECS) as ExportFormat[]).filter((f) =>
    FORMAT_SPECS[f].detect.some((set) => set.every((h) => headers.has(h))),
  );
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) return 'plain';
  throw new SchoolgateError(
    'SG_CSV_INVALID',
    `${file}: the header row fits more than one export format (${matches.join(', ')}); nothing was changed`,
    { context: { file, formats: matches }, suggestion: `name it: --format ${matches.join('|')}` },
  );
}

/** The people of an export (the first row is its header). */
export function readExport(rows: readonly CsvRow[], format: ExportFormat, file: string): Person[] {
  const spec = FORMAT_SPECS[format];
  const [header, ...body] = rows;
  if (!header) return [];
  const index = new Map<string, number>();
  header.fields.forEach((h, i) => {
    const key = canonicalHeader(h);
    if (!index.has(key)) index.set(key, i);
  });
  if (!spec.user.some((c) => index.has(c)))
    throw new SchoolgateError(
      'SG_CSV_INVALID',
      `${file}:${header.line}: no user name column for the ${format} format (one of: ${spec.user.join(', ')}); nothing was changed`,
      { context: { file, format }, suggestion: 'add a Username column to the export, or check --format' },
    );
  return body.map((row) => {
    const pick = (columns: readonly string[]): string => {
      for (const c of columns) {
        const i = index.get(c);
        const value = i === undefined ? '' : (row.fields[i] ?? '');
        if (value !== '') return value;
      }
      return '';
    };
    const displayName =
      pick(spec.displayName) || [pick(spec.first), pick(spec.last)].filter(Boolean).join(' ');
    const status = spec.inactive ? pick([spec.inactive.column]).toLowerCase() : '';
    const inactive = spec.inactive?.values.includes(status) ? spec.inactive.reason : undefined;
    return {
      line: row.line,
      name: pick(spec.user),
      displayName,
      group: pick(spec.group),
      ...(inactive ? { inactive } : {}),
    };
  });
}
