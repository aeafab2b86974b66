/**
 * The plain import file: `username, display name, profile[, password]`, with or without a header row. Strict:
 * every row is checked and one bad row refuses the whole file (SG_CSV_INVALID naming the line).
 */
import { SchoolgateError } from '../../errors.js';
import { USER_NAME } from '../user-store.js';
import type { ImportUser } from './plan.js';
import type { CsvRow } from './read-csv.js';

export const MIN_PASSWORD = 8;

export function readPlain(rows: readonly CsvRow[], file: string, profiles: readonly string[]): ImportUser[] {
  const out: ImportUser[] = [];
  const seen = new Set<string>();
  rows.forEach((row, i) => {
    const bad = (why: string): never => {
      throw new SchoolgateError('SG_CSV_INVALID', `${file}:${row.line}: ${why}; nothing was changed`, {
        context: { file, line: row.line },
        suggestion: 'columns are: username, display name, profile, optional password',
      });
    };
    const f = row.fields;
    if (i === 0 && /^user(name)?$/i.test(f[0] ?? '')) return; // header
    if (f.length < 3 || f.length > 4) bad(`expected 3 or 4 columns, found ${f.length}`);
    const [name = '', displayName = '', profile = '', password] = f;
    if (!USER_NAME.test(name)) bad(`user name "${name}" is not allowed (letters, digits, . _ @ -)`);
    if (seen.has(name)) bad(`user "${name}" appears twice`);
    if (!profiles.includes(profile)) bad(`no profile named "${profile}" (profiles: ${profiles.join(', ')})`);
    if (password !== undefined && password !== '' && password.length < MIN_PASSWORD)
      bad(`the password of "${name}" has fewer than ${MIN_PASSWORD} characters`);
    seen.add(name);
    out.push({ name, displayName, profile, ...(password ? { password } : {}) });
  });
  return out;
}
