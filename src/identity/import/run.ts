/**
 * Importing users from a school export or the plain CSV: what `schoolgate users import` and the console's
 * imports page both call. Everything is planned first, then written in one transaction, each change in the
 * admin-changes record; rows that cannot be imported are skipped and counted by reason (plan.ts).
 */
import type { ReadonlyConfig } from '../../config/load.js';
import { SchoolgateError } from '../../errors.js';
import { withState } from '../../state/store.js';
import { hashPassword } from '../password.js';
import { publicUser } from '../user-store.js';
import { detectFormat, readExport, type ImportFormat } from './formats.js';
import { readPlain } from './plain.js';
import { groupProfiles, planImport, type ImportUser, type Skipped } from './plan.js';
import { readCsv } from './read-csv.js';

export type Change = 'add' | 'update' | 'unchanged';

export interface PlannedUser {
  change: Change;
  row: ImportUser;
  hash?: string;
}

export interface UsersImportOptions {
  format: ImportFormat | 'auto';
  /** GROUP=PROFILE values, added to identity.importMap. */
  map: readonly string[];
  dryRun?: boolean | undefined;
  reason?: string | undefined;
  by?: string | undefined;
}

export interface UsersImportResult {
  format: ImportFormat;
  plan: PlannedUser[];
  skipped: Skipped[];
}

/**
 * Reads, plans and (unless a dry run) writes an import. `onProgress(rowsDone, rowsTotal)` follows the rows
 * through; a bad plain row, an unknown --map profile or an unreadable CSV throw before anything is written.
 */
export async function importUsers(
  config: ReadonlyConfig,
  source: { text: string; name: string },
  opts: UsersImportOptions,
  onProgress: (rowsDone: number, rowsTotal: number) => void = () => undefined,
): Promise<UsersImportResult> {
  const { format, users, skipped } = readImport(source, opts, config);
  onProgress(0, users.length);
  const plan = await apply(config, users, opts, (done) => onProgress(done, users.length));
  onProgress(users.length, users.length);
  return { format, plan, skipped };
}

function readImport(
  source: { text: string; name: string },
  opts: UsersImportOptions,
  config: ReadonlyConfig,
): { format: ImportFormat; users: ImportUser[]; skipped: Skipped[] } {
  const file = source.name;
  const rows = readCsv(source.text, file);
  const format = opts.format === 'auto' ? detectFormat(rows[0]?.fields ?? [], file) : opts.format;
  const profiles = Object.keys(config.profiles);
  if (format === 'plain') return { format, users: readPlain(rows, file, profiles), skipped: [] };
  const map = groupProfiles(config.identity.importMap, parseMapOptions(opts.map, profiles));
  return { format, ...planImport(readExport(rows, format, file), map) };
}

/** `--map "Year 7=pupil"` values; an unknown profile is refused before anything is read. */
export function parseMapOptions(
  values: readonly string[],
  profiles: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.lastIndexOf('=');
    const group = v.slice(0, eq).trim();
    const profile = v.slice(eq + 1).trim();
    if (eq <= 0 || group === '' || profile === '')
      throw new SchoolgateError('SG_ARGUMENT_INVALID', `--map "${v}": expected GROUP=PROFILE`, {
        suggestion: 'e.g. --map "Year 7=pupil" or --map /Pupils=pupil',
      });
    if (!profiles.includes(profile))
      throw new SchoolgateError('SG_PROFILE_UNKNOWN', `--map "${v}": no profile named "${profile}"`, {
        suggestion: `use one of: ${profiles.join(', ')}`,
      });
    out[group] = profile;
  }
  return out;
}

async function apply(
  config: ReadonlyConfig,
  rows: readonly ImportUser[],
  opts: UsersImportOptions,
  onProgress: (rowsDone: number) => void,
): Promise<PlannedUser[]> {
  return withState(config.dataDir, async (state) => {
    const changes = rows.map((row) => {
      const existing = state.users.get(row.name);
      const change: Change = !existing
        ? 'add'
        : existing.profile !== row.profile ||
            existing.displayName !== row.displayName ||
            row.password !== undefined
          ? 'update'
          : 'unchanged';
      return { change, row } as PlannedUser;
    });
    if (opts.dryRun) return changes;
    // Hashing a password (scrypt) is the slow step: progress counts the rows it has been through.
    let done = 0;
    for (const c of changes) {
      if (c.row.password !== undefined) c.hash = await hashPassword(c.row.password);
      onProgress(++done);
    }
    state.transaction(() => {
      for (const c of changes) {
        if (c.change === 'unchanged') continue;
        const fields = {
          profile: c.row.profile,
          displayName: c.row.displayName,
          ...(c.hash ? { passwordHash: c.hash } : {}),
        };
        const record = {
          action: 'users.import',
          target: `user ${c.row.name}`,
          reason: opts.reason,
          by: opts.by,
        };
        if (c.change === 'add') {
          state.users.insert({ name: c.row.name, ...fields, passwordHash: c.hash ?? null });
          state.changes.record({ ...record, after: publicUser(state.users.get(c.row.name)!) });
        } else {
          const { before, after } = state.users.update(c.row.name, fields);
          state.changes.record({ ...record, before: publicUser(before), after: publicUser(after) });
        }
      }
    });
    return changes;
  });
}
