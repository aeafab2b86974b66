/**
 * From the people of an export to the users to import: each person's group mapped to a profile (--map and
 * identity.importMap; an OU path falls back to its nearest mapped parent), and every person not imported
 * skipped with a reason — the summary counts them by reason, so a technician sees "12 in a group with no
 * profile: Year 12, Year 13" before anything changes. Pure: no database, no files.
 */
import { USER_NAME } from '../user-store.js';
import type { Person } from './formats.js';

export interface ImportUser {
  name: string;
  displayName: string;
  profile: string;
  password?: string;
}

export type SkipReason =
  'inactive' | 'no-user-name' | 'user-name-not-allowed' | 'duplicate' | 'no-group' | 'group-not-mapped';

export interface Skipped {
  line: number;
  name: string;
  reason: SkipReason;
  detail: string;
}

/** Group → profile, keys compared without regard to case and spacing. */
export type GroupProfiles = ReadonlyMap<string, string>;

export function canonicalGroup(group: string): string {
  return group.replace(/\s+/g, ' ').trim().toLowerCase();
}

export function groupProfiles(...maps: Readonly<Record<string, string>>[]): GroupProfiles {
  const out = new Map<string, string>();
  for (const m of maps)
    for (const [group, profile] of Object.entries(m)) out.set(canonicalGroup(group), profile);
  return out;
}

/** The profile for a group: exact, else for an OU path (/Pupils/Year 7) its nearest mapped parent. */
export function profileForGroup(map: GroupProfiles, group: string): string | null {
  let key = canonicalGroup(group);
  for (;;) {
    const hit = map.get(key);
    if (hit) return hit;
    if (!key.startsWith('/')) return null;
    const slash = key.replace(/\/+$/, '').lastIndexOf('/');
    if (slash <= 0) return map.get('/') ?? null;
    key = key.slice(0, slash);
  }
}

export function planImport(
  people: readonly Person[],
  map: GroupProfiles,
): { users: ImportUser[]; skipped: Skipped[] } {
  const users: ImportUser[] = [];
  const skipped: Skipped[] = [];
  const seen = new Set<string>();
  for (const p of people) {
    const skip = (reason: SkipReason, detail: string) =>
      skipped.push({ line: p.line, name: p.name, reason, detail });
    if (p.inactive) skip('inactive', p.inactive);
    else if (p.name === '') skip('no-user-name', 'the user name column is empty');
    else if (!USER_NAME.test(p.name)) skip('user-name-not-allowed', 'allowed: 1–64 letters, digits, . _ @ -');
    else if (seen.has(p.name.toLowerCase())) skip('duplicate', 'the name appears earlier in the file');
    else if (p.group === '') skip('no-group', 'the year / group / OU column is empty');
    else {
      const profile = profileForGroup(map, p.group);
      if (!profile) skip('group-not-mapped', p.group);
      else {
        seen.add(p.name.toLowerCase());
        users.push({ name: p.name, displayName: p.displayName, profile });
      }
    }
  }
  return { users, skipped };
}

/** Skipped people counted by reason; for unmapped groups, which groups. */
export function skippedSummary(
  skipped: readonly Skipped[],
): Record<string, { count: number; groups?: string[] }> {
  const out: Record<string, { count: number; groups?: string[] }> = {};
  for (const s of skipped) {
    const entry = (out[s.reason] ??= { count: 0 });
    entry.count++;
    if (s.reason === 'group-not-mapped') {
      entry.groups ??= [];
      if (!entry.groups.includes(s.detail)) entry.groups.push(s.detail);
    }
  }
  return out;
}
